#include "common/storage/sha256.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "tests/unit/storage/storage_test_util.h"

namespace minicloud::storage {
namespace {

struct Vector {
  std::string input;
  std::string hex;
};

// FIPS 180-2 / NIST examples.
const std::vector<Vector>& Vectors() {
  static const auto* v = new std::vector<Vector>{
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
      {std::string(1000000, 'a'),
       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
  };
  return *v;
}

TEST_CASE("Sha256 of bytes, streamed and whole", "[storage][sha256]") {
  for (const Vector& v : Vectors()) {
    CHECK(Sha256Hex(v.input).value_or("") == v.hex);
    Sha256 h;  // odd-sized chunks
    for (size_t i = 0; i < v.input.size(); i += 7777)
      h.Update(std::string_view(v.input).substr(i, 7777));
    CHECK(h.Finish().value_or("") == v.hex);
  }
}

TEST_CASE("Sha256 Finish is single use", "[storage][sha256]") {
  Sha256 h;
  REQUIRE(h.Finish().ok());
  CHECK(h.Finish().status().code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("Sha256FileHex", "[storage][sha256]") {
  testing::TempDir dir;
  for (const Vector& v : Vectors()) {
    const std::string path = dir.File("f");
    testing::WriteFile(path, v.input);
    CHECK(Sha256FileHex(path).value_or("") == v.hex);
  }
  // Larger than the 1 MiB read buffer and not a multiple of it.
  std::string big(3 * (1 << 20) + 12345, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31 + 7);
  testing::WriteFile(dir.File("big"), big);
  CHECK(Sha256FileHex(dir.File("big")).value_or("x") == Sha256Hex(big).value_or("y"));

  absl::StatusOr<std::string> missing = Sha256FileHex(dir.File("missing"));
  CHECK(missing.status().code() == absl::StatusCode::kNotFound);
  CHECK_THAT(std::string(missing.status().message()), Catch::Contains("missing"));
  CHECK_FALSE(Sha256FileHex(dir.path()).ok());  // a directory
}

TEST_CASE("IsSha256Hex", "[storage][sha256]") {
  CHECK(IsSha256Hex(std::string(64, 'a')));
  CHECK(IsSha256Hex(std::string(64, 'F')));
  CHECK_FALSE(IsSha256Hex(std::string(63, 'a')));
  CHECK_FALSE(IsSha256Hex(std::string(65, 'a')));
  CHECK_FALSE(IsSha256Hex(std::string(64, 'g')));
  CHECK_FALSE(IsSha256Hex("../../etc/passwd" + std::string(48, 'a')));
}

}  // namespace
}  // namespace minicloud::storage
