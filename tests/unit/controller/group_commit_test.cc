#include "controller/store/group_commit.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "controller/store/rocksdb_store.h"
#include "tests/testing/temp_dir.h"

namespace minicloud::controller {
namespace {

// A Store that forwards to another (or to nothing), answers Commit from a script, can hold a
// commit until released, and records every batch it was asked to commit.
class ScriptedStore : public Store {
 public:
  explicit ScriptedStore(Store* inner = nullptr) : inner_(inner) {}

  absl::StatusOr<std::optional<std::string>> Get(Table t, absl::string_view key) override {
    if (inner_ != nullptr) return inner_->Get(t, key);
    return std::nullopt;
  }
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Scan(Table t) override {
    if (inner_ != nullptr) return inner_->Scan(t);
    return std::vector<std::pair<std::string, std::string>>{};
  }
  absl::Status Commit(const WriteBatch& batch) override {
    std::unique_lock<std::mutex> lock(mu_);
    const size_t n = commits_.size();
    commits_.push_back(batch);
    entered_.notify_all();
    gate_cv_.wait(lock, [&] { return !hold_ || n < release_upto_; });
    if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
    absl::Status s = n < script_.size() ? script_[n] : absl::OkStatus();
    if (s.ok() && inner_ != nullptr) s = inner_->Commit(batch);
    return s;
  }

  // Commit number n (0-based) returns script[n]; commits past the script succeed.
  void Script(std::vector<absl::Status> script) {
    std::lock_guard<std::mutex> lock(mu_);
    script_ = std::move(script);
  }
  void Delay(std::chrono::microseconds d) {
    std::lock_guard<std::mutex> lock(mu_);
    delay_ = d;
  }
  // Commits numbered >= release_upto block until Release lets them go.
  void Hold() {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = true;
    release_upto_ = commits_.size();
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = false;
    gate_cv_.notify_all();
  }
  // Lets commits numbered < n go; later ones stay held.
  void ReleaseUpTo(size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    release_upto_ = n;
    gate_cv_.notify_all();
  }
  void AwaitCommits(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    entered_.wait(lock, [&] { return commits_.size() >= n; });
  }
  // AwaitCommits with a deadline: false when fewer than n commits started within `limit`.
  bool AwaitCommitsFor(size_t n, std::chrono::seconds limit) {
    std::unique_lock<std::mutex> lock(mu_);
    return entered_.wait_for(lock, limit, [&] { return commits_.size() >= n; });
  }
  std::vector<WriteBatch> commits() {
    std::lock_guard<std::mutex> lock(mu_);
    return commits_;
  }

 private:
  Store* inner_;
  std::mutex mu_;
  std::condition_variable gate_cv_, entered_;
  bool hold_ = false;
  size_t release_upto_ = 0;
  std::chrono::microseconds delay_{0};
  std::vector<absl::Status> script_;
  std::vector<WriteBatch> commits_;
};

// One write of a test batch: value "" means delete.
struct W {
  const char* key;
  const char* value;
};

WriteBatch Batch(const std::vector<W>& writes) {
  WriteBatch b;
  for (const auto& w : writes) {
    if (std::string(w.value).empty()) {
      b.Delete(Table::kInstances, w.key);
    } else {
      b.Put(Table::kInstances, w.key, w.value);
    }
  }
  return b;
}

std::optional<std::string> Read(Store& store, const std::string& key) {
  auto got = store.Get(Table::kInstances, key);
  REQUIRE(got.ok());
  return *got;
}

}  // namespace

TEST_CASE("group commit keeps ticket order on disk, merged or not", "[store][group_commit]") {
  struct Case {
    const char* name;
    std::vector<std::vector<W>> batches;
    std::vector<std::pair<const char*, const char*>> want;  // value "" = absent
  };
  const Case cases[] = {
      {"later put wins", {{{"a", "1"}}, {{"a", "2"}}, {{"a", "3"}}}, {{"a", "3"}}},
      {"delete after put", {{{"a", "1"}, {"b", "1"}}, {{"a", ""}}}, {{"a", ""}, {"b", "1"}}},
      {"put after delete", {{{"a", "1"}}, {{"a", ""}}, {{"a", "2"}}}, {{"a", "2"}}},
      {"within one batch the last op wins", {{{"a", "1"}, {"a", "2"}}, {}}, {{"a", "2"}}},
      {"independent keys", {{{"a", "1"}}, {{"b", "2"}}, {{"c", "3"}}}, {{"a", "1"}, {"b", "2"}}},
      {"empty batches only", {{}, {}}, {{"a", ""}}},
  };
  for (const auto& c : cases) {
    for (const bool merged : {false, true}) {
      DYNAMIC_SECTION(c.name << (merged ? " (one merged commit)" : " (one commit each)")) {
        testing::TempDir dir;
        auto rocks = RocksDbStore::Open(dir.path());
        REQUIRE(rocks.ok());
        ScriptedStore store(rocks->get());
        GroupCommitter gc(store);
        size_t ops = 0;
        for (const auto& b : c.batches) ops += b.size();
        uint64_t first_ticket = 1;
        if (merged) {
          // A first write held inside Store::Commit, so that every batch below queues behind it
          // and the next write carries them all.
          store.Hold();
          REQUIRE(gc.Enqueue(Batch({{"gate", "x"}})) == 1);
          store.AwaitCommits(1);
          first_ticket = 2;
        }
        std::vector<uint64_t> tickets;
        for (const auto& b : c.batches) {
          tickets.push_back(gc.Enqueue(Batch(b)));
          if (!merged) REQUIRE(gc.Wait(tickets.back()).ok());
        }
        if (merged) store.Release();
        // Tickets are 1, 2, 3, ... in Enqueue order.
        for (size_t i = 0; i < tickets.size(); ++i) REQUIRE(tickets[i] == first_ticket + i);
        // Waiting for the last ticket makes every earlier one durable too.
        REQUIRE(gc.Wait(tickets.back()).ok());
        REQUIRE(gc.durable() == tickets.back());
        for (uint64_t t : tickets) REQUIRE(gc.Wait(t).ok());
        if (merged) {
          const auto commits = store.commits();
          REQUIRE(commits.size() == (ops == 0 ? 1u : 2u));  // empty batches reach no Commit
          if (ops > 0) REQUIRE(commits[1].ops().size() == ops);
        }
        for (const auto& [key, value] : c.want) {
          INFO(key);
          auto got = Read(**rocks, key);
          if (std::string(value).empty()) {
            REQUIRE_FALSE(got.has_value());
          } else {
            REQUIRE(got == std::optional<std::string>(value));
          }
        }
      }
    }
  }
}

TEST_CASE("group commit: a ticket never issued is an error", "[store][group_commit]") {
  ScriptedStore store;
  GroupCommitter gc(store);
  REQUIRE(gc.Wait(0).ok());  // nothing to wait for
  REQUIRE(gc.Sync().ok());
  REQUIRE(gc.Wait(1).code() == absl::StatusCode::kInvalidArgument);
  REQUIRE(gc.Commit(Batch({{"a", "1"}})).ok());
  REQUIRE(gc.Wait(2).code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("group commit: many concurrent writers share fsyncs and keep order on disk",
          "[store][group_commit]") {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 60;
  testing::TempDir dir;
  {
    auto rocks = RocksDbStore::Open(dir.path());
    REQUIRE(rocks.ok());
    // A little latency per commit (as a slow disk would add) so commits overlap for sure.
    ScriptedStore store(rocks->get());
    store.Delay(std::chrono::microseconds(500));
    GroupCommitter gc(store);

    std::mutex order_mu;  // plays the caller's state lock: decides the order of tickets
    uint64_t seq = 0;
    std::atomic<int> errors{0}, out_of_order{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          uint64_t ticket;
          {
            std::lock_guard<std::mutex> lock(order_mu);
            ++seq;
            WriteBatch b;
            b.Put(Table::kInstances, absl::StrCat("t", t, "-", i), absl::StrCat(seq));
            b.Put(Table::kMeta, "last", absl::StrCat(seq));  // every batch overwrites this key
            ticket = gc.Enqueue(std::move(b));
            if (ticket != seq) ++out_of_order;
          }
          if (!gc.Wait(ticket).ok()) ++errors;
          if (gc.durable() < ticket) ++out_of_order;
        }
      });
    }
    for (auto& th : threads) th.join();
    REQUIRE(errors == 0);
    REQUIRE(out_of_order == 0);
    const auto stats = gc.stats();
    REQUIRE(stats.batches == kThreads * kPerThread);
    REQUIRE(gc.durable() == kThreads * kPerThread);
    INFO("store commits " << stats.store_commits << ", largest group " << stats.max_group);
    REQUIRE(stats.store_commits < stats.batches);
    REQUIRE(stats.store_commits == store.commits().size());
    REQUIRE(stats.max_group > 1);
  }
  // Reopened from disk: every batch is there and the last writer of the shared key won.
  auto rocks = RocksDbStore::Open(dir.path());
  REQUIRE(rocks.ok());
  auto rows = (*rocks)->Scan(Table::kInstances);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == kThreads * kPerThread);
  auto last = (*rocks)->Get(Table::kMeta, "last");
  REQUIRE(last.ok());
  REQUIRE(last->value() == absl::StrCat(kThreads * kPerThread));
}

TEST_CASE("group commit: a failed commit fails its group and everything after it",
          "[store][group_commit]") {
  const absl::Status io = absl::UnavailableError("disk on fire");
  struct Case {
    const char* name;
    std::vector<absl::Status> script;  // per Store::Commit call
    int serial_ok;                     // tickets committed one by one before the failure
  };
  const Case cases[] = {
      {"the first commit fails", {io}, 0},
      {"the third commit fails", {absl::OkStatus(), absl::OkStatus(), io}, 2},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      ScriptedStore store;
      store.Script(c.script);
      GroupCommitter gc(store);
      for (int i = 0; i < c.serial_ok; ++i) REQUIRE(gc.Commit(Batch({{"k", "v"}})).ok());

      // Hold the next commit so several waiters pile up behind it.
      store.Hold();
      const uint64_t first = gc.Enqueue(Batch({{"a", "1"}}));
      absl::Status first_status;
      std::thread first_waiter([&] { first_status = gc.Wait(first); });
      store.AwaitCommits(c.serial_ok + 1);  // the first batch is inside Store::Commit
      std::vector<uint64_t> tickets;
      std::vector<absl::Status> got(4);
      std::vector<std::thread> waiters;
      for (int i = 0; i < 4; ++i) {
        tickets.push_back(gc.Enqueue(Batch({{"b", "2"}})));
        waiters.emplace_back([&, i] { got[i] = gc.Wait(tickets[i]); });
      }
      store.Release();
      first_waiter.join();
      for (auto& w : waiters) w.join();

      // The failed group and every ticket queued behind it get the error; nothing after the
      // failure reaches the store.
      REQUIRE(first_status.code() == absl::StatusCode::kUnavailable);
      REQUIRE_THAT(std::string(first_status.message()), Catch::Matchers::Contains("disk on fire"));
      for (const auto& s : got) REQUIRE(s.code() == absl::StatusCode::kUnavailable);
      REQUIRE(gc.Commit(Batch({{"c", "3"}})).code() == absl::StatusCode::kUnavailable);
      REQUIRE(store.commits().size() == static_cast<size_t>(c.serial_ok) + 1);
      // Tickets durable before the failure stay durable.
      REQUIRE(gc.durable() == static_cast<uint64_t>(c.serial_ok));
      for (int t = 1; t <= c.serial_ok; ++t) REQUIRE(gc.Wait(t).ok());
    }
  }
}

TEST_CASE("group commit: waiters behind a slow commit are carried by one merged commit",
          "[store][group_commit]") {
  ScriptedStore store;
  GroupCommitter gc(store);
  store.Hold();
  const uint64_t first = gc.Enqueue(Batch({{"a", "1"}}));
  absl::Status first_status;
  std::thread first_waiter([&] { first_status = gc.Wait(first); });
  store.AwaitCommits(1);
  std::vector<std::thread> waiters;
  std::vector<absl::Status> got(5);
  for (int i = 0; i < 5; ++i) {
    const uint64_t t = gc.Enqueue(Batch({{"k", "v"}, {"n", "x"}}));
    waiters.emplace_back([&, i, t] { got[i] = gc.Wait(t); });
  }
  store.Release();
  first_waiter.join();
  for (auto& w : waiters) w.join();
  REQUIRE(first_status.ok());
  for (const auto& s : got) REQUIRE(s.ok());
  const auto commits = store.commits();
  REQUIRE(commits.size() == 2);
  REQUIRE(commits[0].ops().size() == 1);
  REQUIRE(commits[1].ops().size() == 10);  // five batches in one Store::Commit
  REQUIRE(gc.stats().max_group == 5);
}

// Three synced writes in a row, each with waiters that arrived while the one before it was in
// flight: write 1 = {first}, write 2 = {a, b} (queued during write 1), write 3 = {c, d} (queued
// during write 2). Waiters sleep per write (done_[write % 2]), and the end of a write wakes its
// own waiters. Bugs this catches: the committing thread not starting the next write when the
// queue filled during the last one (a, b or c, d never return: after 20 s the test fails and
// exits instead of hanging); a waiter filed under the wrong write (its wake-up goes to the other
// condition: it hangs, or a write carries the wrong tickets and the group sizes differ).
TEST_CASE("group commit: waiters of consecutive writes are woken by the write that carries them",
          "[store][group_commit]") {
  ScriptedStore store;
  GroupCommitter gc(store);
  store.Hold();
  std::vector<absl::Status> got(5);
  std::vector<std::thread> threads;
  std::atomic<int> returned{0};
  auto wait_in_thread = [&](int i) {
    static constexpr const char* kKeys[] = {"k0", "k1", "k2", "k3", "k4"};
    const uint64_t t = gc.Enqueue(Batch({{kKeys[i], "v"}}));
    threads.emplace_back([&, i, t] {
      got[i] = gc.Wait(t);
      returned.fetch_add(1);
    });
  };
  wait_in_thread(0);
  store.AwaitCommits(1);  // write 1 in flight, held
  wait_in_thread(1);
  wait_in_thread(2);
  // Give both time to enter Wait (for write 2) before write 1 is let go. The groups below do
  // not depend on it: their batches are queued already.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  // A waiter nobody wakes would hang the suite: fail loudly and stop instead.
  auto give_up = [&](const char* what) {
    std::fprintf(stderr, "group commit: %s within 20 s (%d of 5 waiters returned)\n", what,
                 returned.load());
    std::_Exit(1);
  };
  store.ReleaseUpTo(1);
  if (!store.AwaitCommitsFor(2, std::chrono::seconds(20))) give_up("write 2 never started");
  // write 2 in flight, held
  wait_in_thread(3);
  wait_in_thread(4);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  store.Release();
  for (int i = 0; i < 2000 && returned.load() < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (returned.load() < 5) give_up("not every waiter returned");
  for (auto& t : threads) t.join();
  for (const auto& s : got) REQUIRE(s.ok());
  const auto commits = store.commits();
  REQUIRE(commits.size() == 3);
  CHECK(commits[0].ops().size() == 1);
  CHECK(commits[1].ops().size() == 2);  // a and b, merged
  CHECK(commits[2].ops().size() == 2);  // c and d, merged
  CHECK(gc.durable() == 5);
}

// Bugs this catches: the committing thread writing only when someone waits (the batch below is
// never waited for), and the destructor stopping the thread with batches still queued.
TEST_CASE("group commit writes queued batches without a waiter, and before it is destroyed",
          "[store][group_commit]") {
  testing::TempDir dir;
  {
    auto rocks = RocksDbStore::Open(dir.path());
    REQUIRE(rocks.ok());
    ScriptedStore store(rocks->get());
    std::thread release;
    {
      GroupCommitter gc(store);
      gc.Enqueue(Batch({{"unwaited", "1"}}));
      REQUIRE(store.AwaitCommitsFor(1, std::chrono::seconds(20)));
      // The next write is held, and a batch queues behind it; the committer is destroyed while
      // the write is in flight (released 100 ms later, from another thread).
      store.Hold();
      gc.Enqueue(Batch({{"held", "2"}}));
      store.AwaitCommits(2);
      gc.Enqueue(Batch({{"queued", "3"}}));
      release = std::thread([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        store.Release();
      });
    }  // ~GroupCommitter: finishes "held", commits "queued", then stops
    release.join();
  }
  auto rocks = RocksDbStore::Open(dir.path());
  REQUIRE(rocks.ok());
  for (const char* key : {"unwaited", "held", "queued"}) {
    INFO(key);
    REQUIRE(Read(**rocks, key).has_value());
  }
}

}  // namespace minicloud::controller
