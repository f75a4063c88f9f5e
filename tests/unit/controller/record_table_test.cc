// RecordTable (controller/service/record_table.h) against a std::map after random inserts,
// replacements and erasures: the same records, found the same way, walked in the same order.
#include "controller/service/record_table.h"

#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace minicloud::controller {
namespace {

// Ids that share their first 8 bytes (the packed prefix) in runs, shorter ones, and EC2-like
// ones, so that the order is decided by the prefix, by the rest of the id, and by length.
std::string RandomId(std::mt19937_64& rng) {
  switch (rng() % 4) {
    case 0:
      return absl::StrFormat("i-%017x", rng() & 0xfffffffffffULL);
    case 1:
      return absl::StrCat("i-000000", rng() % 50);  // same 8-byte prefix, ties on the rest
    case 2:
      return absl::StrCat("i-", rng() % 30);  // shorter than 8 bytes
    default:
      return std::string(rng() % 3, 'i');  // "", "i", "ii": empty and prefix of others
  }
}

std::vector<std::string> Walk(const RecordTable<int>& t) {
  std::vector<std::string> out;
  for (const auto& [id, v] : t) out.push_back(absl::StrCat(id, "=", v));
  return out;
}

std::vector<std::string> Walk(const std::map<std::string, int>& m) {
  std::vector<std::string> out;
  for (const auto& [id, v] : m) out.push_back(absl::StrCat(id, "=", v));
  return out;
}

TEST_CASE("record table: same records, lookups and id order as a std::map", "[record_table]") {
  std::mt19937_64 rng(7);
  RecordTable<int> table;
  std::map<std::string, int> ref;
  for (int step = 0; step < 4000; ++step) {
    const std::string id = RandomId(rng);
    const int op = static_cast<int>(rng() % 3);
    if (op == 0) {
      table.Put(id, step);
      ref[id] = step;
    } else if (op == 1) {
      if (!table.contains(id)) table.Insert(id, step);
      ref.emplace(id, step);
    } else {
      // Catches: Erase leaving the id in the order (the walk would show a dangling entry).
      CHECK(table.Erase(id) == (ref.erase(id) == 1));
    }
    const std::string probe = RandomId(rng);
    REQUIRE(table.size() == ref.size());
    CHECK(table.contains(probe) == ref.contains(probe));
    CHECK(table.count(probe) == ref.count(probe));
    auto found = table.find(probe);
    if (ref.contains(probe)) {
      REQUIRE(found != table.end());
      CHECK(found->first == probe);
      CHECK(found->second == ref.at(probe));
      CHECK(table.at(probe) == ref.at(probe));
      CHECK(*table.Find(probe) == ref.at(probe));
    } else {
      CHECK(found == table.end());
      CHECK(table.Find(probe) == nullptr);
      CHECK_THROWS_AS(table.at(probe), std::out_of_range);
    }
    auto lb = table.lower_bound(probe);
    auto ref_lb = ref.lower_bound(probe);
    if (ref_lb == ref.end()) {
      CHECK(lb == table.end());
    } else {
      REQUIRE(lb != table.end());
      CHECK(lb->first == ref_lb->first);
    }
  }
  // Catches: ordering by the packed prefix alone (ids with one prefix would collide or misorder).
  CHECK(Walk(table) == Walk(ref));
  CHECK(table.size() > 50);
}

TEST_CASE("record table: a found record is the one iteration shows, and stays put on inserts",
          "[record_table]") {
  RecordTable<int> table;
  int& first = table.Insert("i-0000000000000000a", 1);
  for (int i = 0; i < 1000; ++i) table.Insert(absl::StrFormat("i-%017x", 0x1000 + i), i);
  CHECK(&first == table.Find("i-0000000000000000a"));
  CHECK(&table.find("i-0000000000000000a")->second == &first);
  CHECK(table.begin()->first == "i-0000000000000000a");
  CHECK(std::prev(table.end())->first == absl::StrFormat("i-%017x", 0x1000 + 999));
}

}  // namespace
}  // namespace minicloud::controller
