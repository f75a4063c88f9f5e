// AbslView / StdView: zero-copy, exact bytes (embedded NULs included), both directions.

#include "common/string_view_compat.h"

#include <catch2/catch.hpp>
#include <string>

namespace minicloud {
namespace {

TEST_CASE("string_view adapters view the same bytes", "[string_view]") {
  struct Case {
    const char* name;
    std::string text;
  };
  const Case cases[] = {
      {"empty", std::string()},
      {"plain", std::string("ami-0123")},
      {"embedded NUL", std::string("a\0b\0", 4)},
      {"trailing NUL", std::string("xyz\0", 4)},
  };
  for (const Case& c : cases) {
    SECTION(c.name) {
      const std::string_view std_view(c.text);
      const absl::string_view absl_view = AbslView(std_view);
      CHECK(absl_view.data() == c.text.data());
      CHECK(absl_view.size() == c.text.size());
      const std::string_view back = StdView(absl_view);
      CHECK(back.data() == c.text.data());
      CHECK(back.size() == c.text.size());
      CHECK(std::string(back) == c.text);
    }
  }
}

TEST_CASE("string_view adapters view a part, not the rest of the string", "[string_view]") {
  const std::string text = "instance-i-42";
  const std::string_view part = std::string_view(text).substr(9, 4);
  CHECK(AbslView(part) == "i-42");
  CHECK(StdView(absl::string_view(text).substr(0, 8)) == "instance");
}

}  // namespace
}  // namespace minicloud
