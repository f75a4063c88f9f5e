#pragma once

// RecordTable: string-keyed records with a hashed lookup and an ordered walk, for the mirror's
// large tables (CloudState's instance records: 100,000 and more).
//
// A std::map<std::string, Record> of that size costs a walk of ~17 nodes per lookup or insert,
// each node a cache miss plus one more for its key (ids are longer than the short-string
// buffer). Here the records live in a node-based hash map (one probe to find one; their
// addresses stay valid until erased), and the order is a B-tree of small keys: the first 8
// bytes of the id packed into an integer (compared inline, no pointer chased) and the record's
// node, whose id decides ties. Reading looks like a const std::map: iteration in key order yields
// `const std::pair<const std::string, Record>&`; find / at / contains / count / size / empty.
// Changes go through Find, Insert and Erase (the owner keeps its indexes in step).
//
// Not thread-safe (the state lock guards it). Iterators are invalidated by any insert or erase.

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

#include "absl/container/btree_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/strings/string_view.h"

namespace minicloud::controller {

template <typename Record>
class RecordTable {
 public:
  using key_type = std::string;
  using mapped_type = Record;
  using value_type = std::pair<const std::string, Record>;

 private:
  // 16 bytes a key (twice as many per B-tree node as with the id's view beside them): the
  // id is read from the record's node on a tie of the prefixes.
  struct Key {
    uint64_t prefix = 0;  // the first 8 bytes, big-endian (shorter ids: zero-padded)
    const value_type* node = nullptr;
    absl::string_view id() const { return node->first; }
  };
  // A lookup by id (no node).
  struct Probe {
    uint64_t prefix = 0;
    absl::string_view id;
  };
  struct KeyLess {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      if (a.prefix != b.prefix) return a.prefix < b.prefix;
      return IdOf(a) < IdOf(b);
    }
    static absl::string_view IdOf(const Key& k) { return k.id(); }
    static absl::string_view IdOf(const Probe& p) { return p.id; }
  };
  using Order = absl::btree_set<Key, KeyLess>;

  static uint64_t Prefix(absl::string_view id) {
    unsigned char bytes[8] = {};
    std::memcpy(bytes, id.data(), id.size() < 8 ? id.size() : 8);
    uint64_t prefix = 0;
    for (unsigned char b : bytes) prefix = (prefix << 8) | b;
    return prefix;
  }
  static Probe MakeProbe(absl::string_view id) { return Probe{Prefix(id), id}; }

 public:
  class const_iterator {
   public:
    using iterator_category = std::bidirectional_iterator_tag;
    using value_type = RecordTable::value_type;
    using difference_type = std::ptrdiff_t;
    using pointer = const value_type*;
    using reference = const value_type&;

    const_iterator() = default;
    reference operator*() const { return *it_->node; }
    pointer operator->() const { return it_->node; }
    const_iterator& operator++() {
      ++it_;
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator old = *this;
      ++it_;
      return old;
    }
    const_iterator& operator--() {
      --it_;
      return *this;
    }
    friend bool operator==(const const_iterator& a, const const_iterator& b) {
      return a.it_ == b.it_;
    }
    friend bool operator!=(const const_iterator& a, const const_iterator& b) {
      return a.it_ != b.it_;
    }

   private:
    friend class RecordTable;
    explicit const_iterator(typename Order::const_iterator it) : it_(it) {}
    typename Order::const_iterator it_;
  };
  using iterator = const_iterator;

  RecordTable() = default;
  RecordTable(const RecordTable&) = delete;  // the order points into the records
  RecordTable& operator=(const RecordTable&) = delete;

  const_iterator begin() const { return const_iterator(order_.begin()); }
  const_iterator end() const { return const_iterator(order_.end()); }
  size_t size() const { return records_.size(); }
  bool empty() const { return records_.empty(); }

  const_iterator find(absl::string_view id) const {
    auto it = records_.find(id);
    if (it == records_.end()) return end();
    return const_iterator(order_.find(MakeProbe(it->first)));
  }
  // The first record whose id is not less than `id` (ordered walks that resume after a key).
  const_iterator lower_bound(absl::string_view id) const {
    return const_iterator(order_.lower_bound(MakeProbe(id)));
  }
  bool contains(absl::string_view id) const { return records_.contains(id); }
  size_t count(absl::string_view id) const { return records_.contains(id) ? 1 : 0; }
  const Record& at(absl::string_view id) const {
    auto it = records_.find(id);
    if (it == records_.end()) throw std::out_of_range("RecordTable::at: no such record");
    return it->second;
  }

  // --- Changes (the owner only) ---

  // The record of `id`, or null. One hash probe; no walk of the order.
  Record* Find(absl::string_view id) {
    auto it = records_.find(id);
    return it == records_.end() ? nullptr : &it->second;
  }
  // Adds a record under a new id (`id` must not be present) and returns it.
  Record& Insert(std::string id, Record record) {
    auto [it, inserted] = records_.try_emplace(std::move(id), std::move(record));
    if (inserted) order_.insert(Key{Prefix(it->first), &*it});
    return it->second;
  }
  // Sets the record of `id` (added or replaced) and returns it.
  Record& Put(const std::string& id, Record record) {
    if (Record* r = Find(id)) {
      *r = std::move(record);
      return *r;
    }
    return Insert(id, std::move(record));
  }
  // Removes the record of `id`; false when there is none.
  bool Erase(absl::string_view id) {
    auto it = records_.find(id);
    if (it == records_.end()) return false;
    order_.erase(MakeProbe(it->first));
    records_.erase(it);
    return true;
  }

 private:
  absl::node_hash_map<std::string, Record> records_;
  Order order_;
};

}  // namespace minicloud::controller
