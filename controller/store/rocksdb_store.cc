#include "controller/store/rocksdb_store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"

namespace minicloud::controller {

absl::string_view TableName(Table t) {
  switch (t) {
    case Table::kInstances:
      return "instances";
    case Table::kImages:
      return "images";
    case Table::kHosts:
      return "hosts";
    case Table::kClientTokens:
      return "client_tokens";
    case Table::kMeta:
      return "meta";
    case Table::kKeyPairs:
      return "key_pairs";
    case Table::kSubnets:
      return "subnets";
    case Table::kPlacementGroups:
      return "placement_groups";
    case Table::kInstanceProfiles:
      return "instance_profiles";
    case Table::kAccessKeys:
      return "access_keys";
    case Table::kVolumes:
      return "volumes";
    case Table::kSnapshots:
      return "snapshots";
    case Table::kStacks:
      return "stacks";
    case Table::kStackEvents:
      return "stack_events";
  }
  return "unknown";
}

namespace {
absl::Status FromRocks(const rocksdb::Status& s, absl::string_view context) {
  if (s.ok()) return absl::OkStatus();
  auto code = s.IsNotFound() ? absl::StatusCode::kNotFound : absl::StatusCode::kInternal;
  if (s.IsIOError()) code = absl::StatusCode::kUnavailable;
  return absl::Status(code, absl::StrCat(context, ": ", s.ToString()));
}
}  // namespace

absl::StatusOr<std::unique_ptr<RocksDbStore>> RocksDbStore::Open(const std::string& dir) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.IncreaseParallelism(2);

  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  families.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
  for (Table t : kAllTables) {
    families.emplace_back(std::string(TableName(t)), rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(options, dir, families, &handles, &raw);
  if (!s.ok()) return FromRocks(s, absl::StrCat("open store ", dir));

  std::unique_ptr<RocksDbStore> store(new RocksDbStore());
  store->db_.reset(raw);
  store->dir_ = dir;
  // handles[0] is the default family, which minicloud does not use.
  store->db_->DestroyColumnFamilyHandle(handles[0]);
  store->handles_.assign(handles.begin() + 1, handles.end());
  return store;
}

RocksDbStore::~RocksDbStore() {
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  if (db_) db_->Close();
}

rocksdb::ColumnFamilyHandle* RocksDbStore::Handle(Table t) const {
  return handles_[static_cast<size_t>(t)];
}

absl::StatusOr<std::optional<std::string>> RocksDbStore::Get(Table t, absl::string_view key) {
  std::string value;
  auto s =
      db_->Get(rocksdb::ReadOptions(), Handle(t), rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) return FromRocks(s, absl::StrCat("get ", TableName(t), "/", key));
  return value;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> RocksDbStore::Scan(Table t) {
  std::vector<std::pair<std::string, std::string>> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), Handle(t)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    out.emplace_back(it->key().ToString(), it->value().ToString());
  }
  if (!it->status().ok()) return FromRocks(it->status(), absl::StrCat("scan ", TableName(t)));
  return out;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Store::ScanRange(
    Table t, absl::string_view after, absl::string_view end, size_t limit) {
  MC_ASSIGN_OR_RETURN(auto rows, Scan(t));
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& row : rows) {
    if (row.first <= after) continue;
    if (row.first >= end || (limit > 0 && out.size() == limit)) break;
    out.push_back(std::move(row));
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> RocksDbStore::ScanRange(
    Table t, absl::string_view after, absl::string_view end, size_t limit) {
  std::vector<std::pair<std::string, std::string>> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), Handle(t)));
  const rocksdb::Slice from(after.data(), after.size());
  for (it->Seek(from); it->Valid(); it->Next()) {
    const rocksdb::Slice key = it->key();
    if (key == from) continue;
    if (absl::string_view(key.data(), key.size()) >= end) break;
    if (limit > 0 && out.size() == limit) break;
    out.emplace_back(key.ToString(), it->value().ToString());
  }
  if (!it->status().ok()) return FromRocks(it->status(), absl::StrCat("scan ", TableName(t)));
  return out;
}

absl::Status RocksDbStore::Commit(const WriteBatch& batch) {
  // The batch's bytes reserved at once (a group commit carries tens of records; growing the
  // buffer by doubling copied it several times in the committing thread, which every waiter
  // of the synced write waits for): RocksDB's 12-byte header, then per op a type byte, the
  // column family id, the key and the value, each length a varint of at most 5 bytes.
  size_t reserve = 12;
  for (const auto& op : batch.ops()) {
    reserve += 16 + op.key.size() + (op.value ? op.value->size() : 0);
  }
  rocksdb::WriteBatch wb(reserve);
  for (const auto& op : batch.ops()) {
    auto s = op.value ? wb.Put(Handle(op.table), op.key, *op.value)
                      : wb.Delete(Handle(op.table), op.key);
    if (!s.ok()) return FromRocks(s, "prepare batch");
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(db_->Write(wo, &wb), absl::StrCat("commit ", batch.ops().size(), " writes"));
}

}  // namespace minicloud::controller
