#include <catch2/catch.hpp>

#include "controller/store/rocksdb_store.h"
#include "tests/testing/temp_dir.h"

namespace minicloud::controller {

TEST_CASE("RocksDB store commits atomically and survives reopening", "[store]") {
  testing::TempDir dir;
  {
    auto store = RocksDbStore::Open(dir.path());
    REQUIRE(store.ok());
    WriteBatch b;
    b.Put(Table::kInstances, "i-1", "one");
    b.Put(Table::kInstances, "i-2", "two");
    b.Put(Table::kImages, "ami-1", "image");
    REQUIRE((*store)->Commit(b).ok());

    WriteBatch d;
    d.Delete(Table::kInstances, "i-1");
    d.Put(Table::kHosts, "h-1", "host");
    REQUIRE((*store)->Commit(d).ok());
  }
  auto store = RocksDbStore::Open(dir.path());
  REQUIRE(store.ok());
  auto rows = (*store)->Scan(Table::kInstances);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 1);
  REQUIRE((*rows)[0] == std::make_pair(std::string("i-2"), std::string("two")));
  auto got = (*store)->Get(Table::kImages, "ami-1");
  REQUIRE(got.ok());
  REQUIRE(got->value() == "image");
  auto missing = (*store)->Get(Table::kImages, "ami-2");
  REQUIRE(missing.ok());
  REQUIRE_FALSE(missing->has_value());
  // Tables are separate key spaces.
  REQUIRE((*store)->Get(Table::kHosts, "i-2")->has_value() == false);
}

TEST_CASE("a second open of the same store fails with a clear error", "[store]") {
  testing::TempDir dir;
  auto first = RocksDbStore::Open(dir.path());
  REQUIRE(first.ok());
  auto second = RocksDbStore::Open(dir.path());
  REQUIRE_FALSE(second.ok());
  REQUIRE(std::string(second.status().message()).find(dir.path()) != std::string::npos);
}

}  // namespace minicloud::controller
