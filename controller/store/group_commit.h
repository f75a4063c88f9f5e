#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "controller/store/store.h"

namespace minicloud::controller {

// Group commit over a Store: many writers, one synced Store::Commit per group.
//
// Callers Enqueue a WriteBatch and get a ticket; tickets are 1, 2, 3, ... in Enqueue order, which
// is the order the batches reach the disk (a later batch writing the same key wins). Wait(t)
// blocks until ticket t is durable. One committing thread, owned by the committer, takes every
// queued batch, merges them in ticket order into one WriteBatch, calls Store::Commit once
// (Commit is synced by the Store contract) and then marks all those tickets durable together.
// Batches queued while a write is in flight are carried by the next one, so under load one
// fsync covers many batches, and the next write starts as soon as the last one ends, in the
// same thread. (Before, the first waiter led the write and handed the next one to a waiter it
// woke; on a busy machine that waiter first had to get a CPU, and the writes spaced out:
// docs/PERFORMANCE.md, "Placement".)
//
// Failure policy: a failed Store::Commit changed nothing on disk (Store contract), but the
// batches queued behind it were built on top of the failed ones (the caller's in-memory state
// already holds them), so committing them after a gap would write a state that never existed.
// The committer therefore becomes FAILED: every ticket of the failed group, every ticket still
// queued and every ticket enqueued later gets the same error; nothing more is written. Tickets
// that were durable before stay durable. The owner decides what a failure means (CloudState
// stops the controller; the store is the source of truth and is reloaded at restart).
//
// Thread-safe. The Store is not owned and must outlive the committer. Store::Commit is called
// by the committing thread only, never with the committer's mutex held, so Store
// implementations may take their own locks. The destructor commits what is queued, then stops
// the thread.
class GroupCommitter {
 public:
  explicit GroupCommitter(Store& store);
  ~GroupCommitter();
  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;

  // Appends `batch` to the queue and returns its ticket. Never blocks on I/O. An empty batch gets
  // a ticket too (durable as soon as every earlier ticket is).
  uint64_t Enqueue(WriteBatch batch);

  // Blocks until `ticket` is durable (OK) or the committer has failed (that error). A ticket
  // not yet issued is InvalidArgument. May be called by any thread, any number of times.
  absl::Status Wait(uint64_t ticket);

  // Enqueue + Wait.
  absl::Status Commit(WriteBatch batch) { return Wait(Enqueue(std::move(batch))); }

  // Waits until every ticket issued so far is durable.
  absl::Status Sync();

  // The highest ticket known durable (0 = none), and the last ticket issued.
  uint64_t durable() const;
  uint64_t last_ticket() const;

  struct Stats {
    uint64_t batches = 0;        // tickets that became durable
    uint64_t store_commits = 0;  // Store::Commit calls that succeeded
    uint64_t max_group = 0;      // most tickets carried by one Store::Commit
    uint64_t bytes = 0;          // keys + values of the committed ops
    double commit_seconds = 0;   // wall time inside Store::Commit (write + sync), summed
  };
  Stats stats() const;

 private:
  void Run();  // the committing thread

  Store& store_;
  mutable std::mutex mu_;
  std::condition_variable work_;  // the committing thread: a batch was queued, or stop
  // Waiters sleep on the condition of the synced write that will carry their ticket: writes are
  // numbered (commit_seq_), and write n's waiters sleep on done_[n % 2]. While write n is in
  // flight, a ticket it carries (<= inflight_upto_) belongs to write n, a later one to write
  // n + 1. When write n ends, only done_[n % 2] is woken, so waiters of the next write sleep
  // on. A failure wakes everyone.
  std::condition_variable done_[2];
  std::deque<WriteBatch> queue_;  // tickets durable_ + 1 (or in flight) ... last_ticket_
  uint64_t last_ticket_ = 0;
  uint64_t durable_ = 0;
  uint64_t commit_seq_ = 0;     // synced writes started
  uint64_t inflight_upto_ = 0;  // the last ticket the write in flight carries
  bool idle_ = false;           // the committing thread sleeps on work_
  bool stop_ = false;
  absl::Status failed_;  // not OK once a Store::Commit failed
  Stats stats_;
  std::thread thread_;  // last: started once every member above exists
};

}  // namespace minicloud::controller
