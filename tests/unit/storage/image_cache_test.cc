#include "common/storage/image_cache.h"

#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/storage/storage_test_util.h"

namespace minicloud::storage {
namespace {

using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

std::string Digest(const std::string& bytes) { return Sha256Hex(bytes).value(); }

std::string Pattern(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed * 7) >> 3);
  return s;
}

ImageCache OpenCache(const TempDir& dir) {
  absl::StatusOr<ImageCache> cache = ImageCache::Open(dir.File("cache"));
  REQUIRE(cache.ok());
  return *std::move(cache);
}

// Writes `bytes` in `chunk`-sized appends and commits under `sha256`.
absl::StatusOr<CachedImage> WriteObject(const ImageCache& cache, const std::string& sha256,
                                        const std::string& bytes, size_t chunk = 4096) {
  absl::StatusOr<ImageCache::Writer> w = cache.BeginWrite(sha256);
  if (!w.ok()) return w.status();
  for (size_t i = 0; i < bytes.size(); i += chunk) {
    absl::Status s = w->Append(std::string_view(bytes).substr(i, chunk));
    if (!s.ok()) return s;
  }
  return w->Commit();
}

std::vector<std::string> ListCache(const ImageCache& cache) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(cache.dir())) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST_CASE("ImageCache commit, lookup, remove", "[storage][cache]") {
  TempDir dir;
  ImageCache cache = OpenCache(dir);
  const std::string bytes = Pattern(100000, 1);
  const std::string sha = Digest(bytes);

  CHECK_FALSE(cache.Lookup(sha).has_value());
  absl::StatusOr<CachedImage> img = WriteObject(cache, sha, bytes);
  REQUIRE(img.ok());
  CHECK(img->sha256 == sha);
  CHECK(img->path == cache.dir() + "/" + sha);
  CHECK(img->size == bytes.size());
  CHECK(ReadFile(img->path) == bytes);
  CHECK(cache.Lookup(sha) == img->path);
  std::string upper = sha;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  CHECK(cache.Lookup(upper) == img->path);  // digests are case-insensitive
  struct stat st;
  REQUIRE(::stat(img->path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0400);  // committed objects: read-only, owner only
  CHECK(ListCache(cache) == std::vector<std::string>{sha});

  REQUIRE(cache.Remove(sha).ok());
  CHECK_FALSE(cache.Lookup(sha).has_value());
  CHECK(cache.Remove(sha).code() == absl::StatusCode::kNotFound);
  CHECK(ListCache(cache).empty());
}

TEST_CASE("ImageCache rejects a digest mismatch and leaves nothing", "[storage][cache]") {
  TempDir dir;
  ImageCache cache = OpenCache(dir);
  const std::string bytes = Pattern(5000, 2);
  const std::string wrong = Digest("something else");
  absl::StatusOr<CachedImage> img = WriteObject(cache, wrong, bytes);
  REQUIRE(img.status().code() == absl::StatusCode::kDataLoss);
  CHECK_THAT(std::string(img.status().message()), Catch::Contains("sha256 mismatch"));
  CHECK_THAT(std::string(img.status().message()), Catch::Contains(Digest(bytes)));
  CHECK_FALSE(cache.Lookup(wrong).has_value());
  CHECK_FALSE(cache.Lookup(Digest(bytes)).has_value());
  CHECK(ListCache(cache).empty());
}

TEST_CASE("ImageCache abandoned writers remove their temp files", "[storage][cache]") {
  TempDir dir;
  ImageCache cache = OpenCache(dir);
  const std::string bytes = Pattern(10000, 3);
  {
    absl::StatusOr<ImageCache::Writer> w = cache.BeginWrite(Digest(bytes));
    REQUIRE(w.ok());
    REQUIRE(w->Append(bytes).ok());
    CHECK(ListCache(cache).size() == 1);  // the temp file
  }                                       // destroyed without Commit
  CHECK(ListCache(cache).empty());

  absl::StatusOr<ImageCache::Writer> w = cache.BeginWrite(Digest(bytes));
  REQUIRE(w.ok());
  REQUIRE(w->Append(bytes).ok());
  w->Abandon();
  CHECK(ListCache(cache).empty());
  CHECK(w->Append("x").code() == absl::StatusCode::kFailedPrecondition);
  CHECK(w->Commit().status().code() == absl::StatusCode::kFailedPrecondition);

  // Moving a writer moves ownership of the temp file.
  absl::StatusOr<ImageCache::Writer> w2 = cache.BeginWrite(Digest(bytes));
  REQUIRE(w2.ok());
  ImageCache::Writer moved = *std::move(w2);
  REQUIRE(moved.Append(bytes).ok());
  REQUIRE(moved.Commit().ok());
  CHECK(ListCache(cache) == std::vector<std::string>{Digest(bytes)});
  CHECK(moved.Commit().status().code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("ImageCache rejects malformed digests", "[storage][cache]") {
  TempDir dir;
  ImageCache cache = OpenCache(dir);
  for (const std::string& bad :
       {std::string("../../etc/passwd"), std::string(63, 'a'), std::string(64, 'z'),
        "/" + std::string(63, 'a'), std::string(65, 'a')}) {
    CHECK_FALSE(cache.Lookup(bad).has_value());
    CHECK(cache.BeginWrite(bad).status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(cache.Remove(bad).code() == absl::StatusCode::kInvalidArgument);
    CHECK(cache.ImportFile("/etc/hostname", bad).status().code() ==
          absl::StatusCode::kInvalidArgument);
  }
  CHECK(ListCache(cache).empty());
}

TEST_CASE("ImageCache concurrent writers of one object", "[storage][cache]") {
  TempDir dir;
  ImageCache cache = OpenCache(dir);
  const std::string bytes = Pattern(3 << 20, 4);
  const std::string sha = Digest(bytes);
  constexpr int kThreads = 8;
  std::vector<absl::StatusOr<CachedImage>> results(kThreads, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { results[i] = WriteObject(cache, sha, bytes, 10000 + i); });
  }
  for (std::thread& t : threads) t.join();
  for (const auto& r : results) {
    INFO(r.status().ToString());
    CHECK(r.ok());
  }
  CHECK(ListCache(cache) == std::vector<std::string>{sha});
  CHECK(ReadFile(cache.dir() + "/" + sha) == bytes);
}

TEST_CASE("ImageCache concurrent writers, some wrong", "[storage][cache]") {
  TempDir dir;
  ImageCache cache = OpenCache(dir);
  const std::string good = Pattern(1 << 20, 5);
  const std::string sha = Digest(good);
  std::vector<absl::StatusCode> codes(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      const std::string bytes = i % 2 ? good : Pattern(1 << 20, 100 + i);
      codes[i] = WriteObject(cache, sha, bytes).status().code();
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < 8; ++i) {
    CHECK(codes[i] == (i % 2 ? absl::StatusCode::kOk : absl::StatusCode::kDataLoss));
  }
  CHECK(ListCache(cache) == std::vector<std::string>{sha});
  CHECK(ReadFile(cache.dir() + "/" + sha) == good);
}

TEST_CASE("ImageCache::ImportFile", "[storage][cache]") {
  TempDir dir;
  ImageCache cache = OpenCache(dir);
  const std::string bytes = Pattern((2 << 20) + 333, 6);  // spans several read chunks
  const std::string src = dir.File("ami.qcow2");
  WriteFile(src, bytes);
  const std::string sha = Digest(bytes);

  SECTION("with the expected digest") {
    absl::StatusOr<CachedImage> img = cache.ImportFile(src, sha);
    REQUIRE(img.ok());
    CHECK(img->sha256 == sha);
    CHECK(img->size == bytes.size());
    CHECK(ReadFile(img->path) == bytes);
    // Importing again finds the cached object without copying.
    absl::StatusOr<CachedImage> again = cache.ImportFile(src, sha);
    REQUIRE(again.ok());
    CHECK(again->path == img->path);
    CHECK(ListCache(cache) == std::vector<std::string>{sha});
  }
  SECTION("named by content when no digest is given") {
    absl::StatusOr<CachedImage> img = cache.ImportFile(src, "");
    REQUIRE(img.ok());
    CHECK(img->sha256 == sha);
    CHECK(cache.Lookup(sha) == img->path);
    CHECK(ListCache(cache) == std::vector<std::string>{sha});
  }
  SECTION("mismatch") {
    absl::StatusOr<CachedImage> img = cache.ImportFile(src, Digest("other"));
    CHECK(img.status().code() == absl::StatusCode::kDataLoss);
    CHECK_THAT(std::string(img.status().message()), Catch::Contains(src));
    CHECK(ListCache(cache).empty());
  }
  SECTION("missing source") {
    absl::StatusOr<CachedImage> img = cache.ImportFile(dir.File("nope"), sha);
    CHECK(img.status().code() == absl::StatusCode::kNotFound);
    CHECK_THAT(std::string(img.status().message()), Catch::Contains("nope"));
    CHECK(ListCache(cache).empty());
  }
  SECTION("source is a directory") {
    CHECK_FALSE(cache.ImportFile(dir.path(), sha).ok());
    CHECK(ListCache(cache).empty());
  }
}

TEST_CASE("ImageCache::Open", "[storage][cache]") {
  TempDir dir;
  CHECK(ImageCache::Open(dir.File("a/b/c")).ok());  // creates parents
  WriteFile(dir.File("file"), "x");
  CHECK(ImageCache::Open(dir.File("file")).status().code() != absl::StatusCode::kOk);
  CHECK(ImageCache::Open("").status().code() == absl::StatusCode::kInvalidArgument);
  absl::StatusOr<ImageCache> slash = ImageCache::Open(dir.File("d") + "/");
  REQUIRE(slash.ok());
  CHECK(slash->dir() == dir.File("d"));
}

}  // namespace
}  // namespace minicloud::storage
