#pragma once

#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace minicloud::controller {

// The kinds of record the controller keeps; one column family (or key space) each.
enum class Table {
  kInstances,
  kImages,
  kHosts,
  kClientTokens,
  kMeta,
  kKeyPairs,
  kSubnets,
  kPlacementGroups,
  kInstanceProfiles,
  kAccessKeys,
  kVolumes,
  kSnapshots,
  kStacks,
  kStackEvents,
};
inline constexpr Table kAllTables[] = {Table::kInstances,
                                       Table::kImages,
                                       Table::kHosts,
                                       Table::kClientTokens,
                                       Table::kMeta,
                                       Table::kKeyPairs,
                                       Table::kSubnets,
                                       Table::kPlacementGroups,
                                       Table::kInstanceProfiles,
                                       Table::kAccessKeys,
                                       Table::kVolumes,
                                       Table::kSnapshots,
                                       Table::kStacks,
                                       Table::kStackEvents};
absl::string_view TableName(Table t);

// A set of writes applied all together or not at all.
class WriteBatch {
 public:
  struct Op {
    Table table;
    std::string key;
    std::optional<std::string> value;  // nullopt = delete
  };
  void Put(Table t, std::string key, std::string value) {
    ops_.push_back({t, std::move(key), std::move(value)});
  }
  void Delete(Table t, std::string key) { ops_.push_back({t, std::move(key), std::nullopt}); }
  // Appends every op of `other` after this batch's own (so `other` wins on the same key).
  void Append(WriteBatch&& other) {
    if (ops_.empty()) {
      ops_ = std::move(other.ops_);
    } else {
      ops_.insert(ops_.end(), std::make_move_iterator(other.ops_.begin()),
                  std::make_move_iterator(other.ops_.end()));
    }
    other.ops_.clear();
  }
  const std::vector<Op>& ops() const { return ops_; }
  bool empty() const { return ops_.empty(); }

 private:
  std::vector<Op> ops_;
};

// Durable key-value storage for controller state.
//
// Contract: Commit is atomic and durable (synced) when it returns OK; a failed Commit changed
// nothing. Reads see every committed batch. Thread-safe. The controller writes through a
// GroupCommitter (group_commit.h), which merges the batches of concurrent callers into one
// Commit (one synced write) and answers each caller only after that Commit returned OK.
class Store {
 public:
  virtual ~Store() = default;
  virtual absl::StatusOr<std::optional<std::string>> Get(Table t, absl::string_view key) = 0;
  // All records of a table in key order.
  virtual absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Scan(Table t) = 0;
  // The records of a table with keys in (`after`, `end`) (both exclusive), in key order, at most
  // `limit` of them (0 = all). The default filters Scan; RocksDbStore seeks.
  virtual absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ScanRange(
      Table t, absl::string_view after, absl::string_view end, size_t limit);
  virtual absl::Status Commit(const WriteBatch& batch) = 0;
};

}  // namespace minicloud::controller
