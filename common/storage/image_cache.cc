#include "common/storage/image_cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace minicloud::storage {

using file::ErrnoError;
using file::FsyncDir;
using file::OpenForRead;
using file::PReadUpTo;
using file::RegularFileSize;
using file::TempFile;
using file::UniqueFd;
using file::WriteAll;

namespace {

// Validates and lowercases a digest.
absl::StatusOr<std::string> NormalizeDigest(std::string_view sha256) {
  if (!IsSha256Hex(sha256)) {
    return absl::InvalidArgumentError(absl::StrCat("\"", AbslView(sha256.substr(0, 80)),
                                                   "\" is not a SHA-256 digest (64 hex digits)"));
  }
  return absl::AsciiStrToLower(AbslView(sha256));
}

}  // namespace

absl::StatusOr<ImageCache> ImageCache::Open(std::string dir) {
  if (dir.empty()) return absl::InvalidArgumentError("image cache: empty directory name");
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return ErrnoError(ec.value(), "image cache: create directory", dir);
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return ErrnoError(errno, "image cache: stat", dir);
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat("image cache: ", dir, " is not a directory"));
  }
  return ImageCache(std::move(dir));
}

std::string ImageCache::ObjectPath(std::string_view lower_sha256) const {
  return absl::StrCat(dir_, "/", AbslView(lower_sha256));
}

std::optional<std::string> ImageCache::Lookup(std::string_view sha256) const {
  absl::StatusOr<std::string> digest = NormalizeDigest(sha256);
  if (!digest.ok()) return std::nullopt;
  std::string path = ObjectPath(*digest);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return path;
}

absl::StatusOr<ImageCache::Writer> ImageCache::BeginWrite(std::string_view sha256) const {
  std::string expected;
  if (!sha256.empty()) {
    absl::StatusOr<std::string> digest = NormalizeDigest(sha256);
    if (!digest.ok()) return Annotate(digest.status(), "image cache: begin write");
    expected = *std::move(digest);
  }
  const std::string hint = ObjectPath(expected.empty() ? std::string_view("import") : expected);
  absl::StatusOr<TempFile> tmp = TempFile::Create(hint, 0600);
  if (!tmp.ok()) return Annotate(tmp.status(), "image cache: begin write");
  return Writer(dir_, std::move(expected), *std::move(tmp));
}

absl::Status ImageCache::Remove(std::string_view sha256) const {
  absl::StatusOr<std::string> digest = NormalizeDigest(sha256);
  if (!digest.ok()) return Annotate(digest.status(), "image cache: remove");
  const std::string path = ObjectPath(*digest);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(absl::StrCat("image cache: remove: ", *digest, " not cached"));
    }
    return ErrnoError(errno, "image cache: remove", path);
  }
  // Best effort durability of the removal; the object is gone for every later Lookup anyway.
  (void)FsyncDir(dir_);
  return absl::OkStatus();
}

absl::Status ImageCache::Writer::Append(std::string_view bytes) {
  if (finished_) return absl::FailedPreconditionError("image cache: append after commit/abandon");
  if (!error_.ok()) return error_;
  error_ = WriteAll(tmp_.fd(), bytes, tmp_.path());
  if (!error_.ok()) {
    error_ = Annotate(error_, "image cache: append");
    return error_;
  }
  hasher_.Update(bytes);
  size_ += bytes.size();
  return absl::OkStatus();
}

void ImageCache::Writer::Abandon() {
  finished_ = true;
  tmp_.Abandon();
}

absl::StatusOr<CachedImage> ImageCache::Writer::Commit() {
  if (finished_) return absl::FailedPreconditionError("image cache: commit after commit/abandon");
  finished_ = true;
  if (!error_.ok()) {
    tmp_.Abandon();
    return error_;
  }
  absl::StatusOr<std::string> actual = hasher_.Finish();
  if (!actual.ok()) {
    tmp_.Abandon();
    return Annotate(actual.status(), "image cache: commit");
  }
  if (!expected_.empty() && *actual != expected_) {
    tmp_.Abandon();
    return absl::DataLossError(absl::StrCat("image cache: sha256 mismatch: expected ", expected_,
                                            ", got ", *actual, " (", size_, " bytes)"));
  }
  if (::fchmod(tmp_.fd(), 0400) != 0) {
    absl::Status s = ErrnoError(errno, "image cache: chmod", tmp_.path());
    tmp_.Abandon();
    return s;
  }
  CachedImage image{*actual, absl::StrCat(dir_, "/", *actual), size_};
  // replace=true: a concurrent writer of the same digest produced identical bytes.
  absl::Status s = tmp_.Publish(image.path, /*replace=*/true);
  if (!s.ok()) return Annotate(s, absl::StrCat("image cache: commit ", *actual));
  return image;
}

absl::StatusOr<CachedImage> ImageCache::ImportFile(const std::string& src_path,
                                                   std::string_view expected_sha256) const {
  const std::string context = absl::StrCat("image cache: import ", src_path);
  std::string expected;
  if (!expected_sha256.empty()) {
    absl::StatusOr<std::string> digest = NormalizeDigest(expected_sha256);
    if (!digest.ok()) return Annotate(digest.status(), context);
    expected = *std::move(digest);
    if (std::optional<std::string> path = Lookup(expected)) {
      struct stat st;
      if (::stat(path->c_str(), &st) == 0) {
        return CachedImage{expected, *path, static_cast<uint64_t>(st.st_size)};
      }
    }
  }
  absl::StatusOr<UniqueFd> src = OpenForRead(src_path);
  if (!src.ok()) return Annotate(src.status(), context);
  absl::StatusOr<uint64_t> src_size = RegularFileSize(src->get(), src_path);
  if (!src_size.ok()) return Annotate(src_size.status(), context);

  MC_ASSIGN_OR_RETURN(Writer writer, BeginWrite(expected));
  std::vector<char> buf(1 << 20);
  uint64_t offset = 0;
  for (;;) {
    absl::StatusOr<size_t> n = PReadUpTo(src->get(), buf.data(), buf.size(), offset, src_path);
    if (!n.ok()) return Annotate(n.status(), context);
    if (*n == 0) break;
    MC_RETURN_IF_ERROR(writer.Append(std::string_view(buf.data(), *n)));
    offset += *n;
  }
  absl::StatusOr<CachedImage> image = writer.Commit();
  if (!image.ok()) return Annotate(image.status(), context);
  return image;
}

}  // namespace minicloud::storage
