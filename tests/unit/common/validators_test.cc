// The validators applied where names from outside enter: ids per kind, file names under a state
// directory, and EC2's tag rules.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/escaping.h"
#include "common/file/state_path.h"
#include "common/ids.h"
#include "common/tags.h"
#include "tests/testing/temp_dir.h"

namespace minicloud {
namespace {

std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

}  // namespace

TEST_CASE("each id kind has one validator", "[ids][validators]") {
  struct Case {
    IdKind kind;
    std::string id;
    bool ok;
  };
  const Case cases[] = {
      {IdKind::kInstance, "i-0123456789abcdef0", true},
      {IdKind::kInstance, "i-01234567", true},
      {IdKind::kInstance, "../../victim", false},
      {IdKind::kInstance, "i-0123456789abcdef0/../../x", false},
      {IdKind::kInstance, "i-0123456789abcdef0\n", false},
      {IdKind::kInstance, std::string("i-01234567\0", 11), false},
      {IdKind::kInstance, "", false},
      {IdKind::kInstance, "..", false},
      {IdKind::kInstance, "h-0123456789abcdef0", false},
      {IdKind::kInstance, "i-0123456789ABCDEF0", false},
      {IdKind::kHost, "h-0123456789abcdef0", true},
      {IdKind::kHost, "h-../../etc", false},
      {IdKind::kImage, "ami-0123456789abcdef0", true},
      {IdKind::kImage, "i-0123456789abcdef0", false},
      {IdKind::kReservation, "r-0123456789abcdef0", true},
  };
  for (const auto& c : cases) {
    INFO(absl::CHexEscape(c.id));
    const absl::Status s = CheckId(c.kind, c.id);
    CHECK(s.ok() == c.ok);
    if (!c.ok) {
      CHECK(s.code() == absl::StatusCode::kInvalidArgument);
      // The message names the kind and never carries a raw control character.
      CHECK(s.message().find(IdKindName(c.kind)) != absl::string_view::npos);
      CHECK(s.message().find('\n') == absl::string_view::npos);
      CHECK(s.message().find('\0') == absl::string_view::npos);
    }
  }
}

TEST_CASE("QuoteForMessage escapes and shortens", "[ids][validators]") {
  CHECK(QuoteForMessage("a\nb") == "\"a\\nb\"");
  CHECK(QuoteForMessage(std::string(100, 'x'), 4) == "\"xxxx\"... (100 bytes)");
}

TEST_CASE("PathUnder builds paths only inside the state directory", "[file][validators]") {
  testing::TempDir dir;
  const std::string root = dir / "state";
  std::filesystem::create_directories(root + "/instances");
  struct Case {
    std::vector<std::string> components;
    bool ok;
  };
  const std::vector<Case> cases = {
      {{"instances", "i-0123456789abcdef0"}, true},
      {{"instances"}, true},
      {{"instances", ".."}, false},
      {{"instances", "../../victim"}, false},
      {{"instances", "."}, false},
      {{"instances", ""}, false},
      {{"instances", "a/b"}, false},
      {{"instances", "/etc"}, false},
      {{"instances", std::string("a\0b", 3)}, false},
      {{"instances", std::string(256, 'a')}, false},
      {{"instances", std::string(255, 'a')}, true},
      {{"instances", "...."}, true},  // an odd name, but a plain one
  };
  for (const auto& c : cases) {
    std::string shown;
    for (const auto& p : c.components) shown += "[" + absl::CHexEscape(p.substr(0, 40)) + "]";
    INFO(shown);
    absl::StatusOr<std::string> got;
    if (c.components.size() == 1) {
      got = file::PathUnder(root, {c.components[0]});
    } else {
      got = file::PathUnder(root, {c.components[0], c.components[1]});
    }
    CHECK(got.ok() == c.ok);
    if (c.ok) {
      std::string want = root;
      for (const auto& p : c.components) want += "/" + p;
      CHECK(*got == want);
    } else {
      CHECK(got.status().code() == absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST_CASE("PathUnder refuses a symbolic link that leads out of the state directory",
          "[file][validators]") {
  testing::TempDir dir;
  const std::string root = dir / "state";
  std::filesystem::create_directories(root + "/instances");
  std::filesystem::create_directories(dir / "victim");
  std::filesystem::create_directory_symlink(dir / "victim",
                                            root + "/instances/i-0123456789abcdef0");
  std::filesystem::create_directory_symlink(root + "/instances",
                                            root + "/instances/i-00000000");  // stays inside
  CHECK_FALSE(file::PathUnder(root, {"instances", "i-0123456789abcdef0"}).ok());
  CHECK_FALSE(file::PathUnder(root, {"instances", "i-0123456789abcdef0", "console.log"}).ok());
  CHECK(file::PathUnder(root, {"instances", "i-00000000"}).ok());
  // A state directory reached through a link of its own is fine: the root is resolved too.
  std::filesystem::create_directory_symlink(root, dir / "state-link");
  CHECK(file::PathUnder(dir / "state-link", {"instances", "i-11111111"}).ok());
}

TEST_CASE("Utf8Length counts characters and refuses invalid UTF-8", "[tags][validators]") {
  struct Case {
    std::string text;
    int chars;  // -1: invalid
  };
  const Case cases[] = {
      {"", 0},
      {"abc", 3},
      {"\xC3\xA9t\xC3\xA9", 3},         // "été"
      {"\xE6\x97\xA5\xE6\x9C\xAC", 2},  // two CJK characters, 6 bytes
      {"\xF0\x9F\x98\x80", 1},          // U+1F600, 4 bytes
      {"\xC3", -1},                     // truncated
      {"\xC0\xAF", -1},                 // overlong '/'
      {"\xED\xA0\x80", -1},             // surrogate U+D800
      {"\xF4\x90\x80\x80", -1},         // above U+10FFFF
      {"\x80", -1},                     // stray continuation byte
      {"\xE6\x97", -1},                 // truncated 3-byte form
  };
  for (const auto& c : cases) {
    INFO(absl::CHexEscape(c.text));
    auto n = Utf8Length(c.text);
    if (c.chars < 0) {
      CHECK_FALSE(n.ok());
    } else {
      REQUIRE(n.ok());
      CHECK(*n == static_cast<size_t>(c.chars));
    }
  }
}

TEST_CASE("tags follow EC2's rules, stricter for keys served in instance metadata",
          "[tags][validators]") {
  const std::string cjk = "\xE6\x97\xA5";  // one character, three bytes
  struct Case {
    std::string name;
    std::string key;
    std::string value;
    bool api_ok;
    bool metadata_ok;
  };
  const std::vector<Case> cases = {
      {"plain", "Name", "web", true, true},
      {"every character metadata allows", "aZ09+-=.,_:@", "", true, true},
      {"slash", "team/owner", "x", true, false},
      {"space", "cost center", "x", true, false},
      {"newline", "a\nb", "x", true, false},
      {"one period", ".", "x", true, false},
      {"two periods", "..", "x", true, false},
      {"_index", "_index", "x", true, false},
      {"dots inside a longer key", "a..b", "x", true, true},
      {"non-ASCII letter", "caf\xC3\xA9", "x", true, false},
      {"empty key", "", "x", false, false},
      {"aws: prefix", "aws:x", "x", false, false},
      {"AWS: prefix in upper case", "AWS:x", "x", false, false},
      {"128 ASCII characters", std::string(128, 'k'), "", true, true},
      {"129 ASCII characters", std::string(129, 'k'), "", false, false},
      {"128 characters of 3 bytes", Repeat(cjk, 128), "", true, false},
      {"129 characters of 3 bytes", Repeat(cjk, 129), "", false, false},
      {"value of 256 characters of 3 bytes", "k", Repeat(cjk, 256), true, true},
      {"value of 257 characters", "k", std::string(257, 'v'), false, false},
      {"value with spaces and slashes", "k", "a b/c", true, true},
      {"key not UTF-8", "k\xFF", "x", false, false},
      {"value not UTF-8", "k", "\xC3", false, false},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      CHECK(CheckTag(c.key, c.value, TagUse::kApiOnly).ok() == c.api_ok);
      CHECK(CheckTag(c.key, c.value, TagUse::kInstanceMetadata).ok() == c.metadata_ok);
    }
  }
}

}  // namespace minicloud
