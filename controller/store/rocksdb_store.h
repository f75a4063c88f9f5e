#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "controller/store/store.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace minicloud::controller {

// The embedded default store: RocksDB with one column family per Table, synced writes.
class RocksDbStore final : public Store {
 public:
  // Opens (creating if needed) the database in `dir`.
  static absl::StatusOr<std::unique_ptr<RocksDbStore>> Open(const std::string& dir);
  ~RocksDbStore() override;

  absl::StatusOr<std::optional<std::string>> Get(Table t, absl::string_view key) override;
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Scan(Table t) override;
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ScanRange(
      Table t, absl::string_view after, absl::string_view end, size_t limit) override;
  absl::Status Commit(const WriteBatch& batch) override;

 private:
  RocksDbStore() = default;
  rocksdb::ColumnFamilyHandle* Handle(Table t) const;

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // indexed by Table
  std::string dir_;
};

}  // namespace minicloud::controller
