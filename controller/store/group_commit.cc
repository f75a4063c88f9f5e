#include "controller/store/group_commit.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "absl/strings/str_cat.h"

namespace minicloud::controller {

GroupCommitter::GroupCommitter(Store& store) : store_(store), thread_([this] { Run(); }) {}

GroupCommitter::~GroupCommitter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    work_.notify_one();
  }
  thread_.join();
}

uint64_t GroupCommitter::Enqueue(WriteBatch batch) {
  std::lock_guard<std::mutex> lock(mu_);
  if (failed_.ok()) queue_.push_back(std::move(batch));  // a failed committer writes nothing
  if (idle_) work_.notify_one();
  return ++last_ticket_;
}

absl::Status GroupCommitter::Wait(uint64_t ticket) {
  std::unique_lock<std::mutex> lock(mu_);
  if (ticket > last_ticket_) {
    return absl::InvalidArgumentError(absl::StrCat("group commit: ticket ", ticket,
                                                   " was never issued (last ", last_ticket_, ")"));
  }
  while (true) {
    if (ticket <= durable_) return absl::OkStatus();
    if (!failed_.ok()) return failed_;
    // The write in flight carries this ticket, or the next write will. (With no write in
    // flight, inflight_upto_ == durable_ and the next write is the one.)
    const uint64_t write = ticket <= inflight_upto_ ? commit_seq_ : commit_seq_ + 1;
    done_[write % 2].wait(lock);
  }
}

void GroupCommitter::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (queue_.empty()) {
      if (stop_) return;  // only once everything queued is written
      idle_ = true;
      work_.wait(lock);
      idle_ = false;
      continue;
    }
    // Take everything queued so far and commit it as one batch.
    ++commit_seq_;
    std::deque<WriteBatch> group;
    group.swap(queue_);
    const uint64_t upto = last_ticket_;
    inflight_upto_ = upto;
    lock.unlock();

    WriteBatch merged;
    for (WriteBatch& b : group) merged.Append(std::move(b));
    const auto t0 = std::chrono::steady_clock::now();
    absl::Status s = merged.empty() ? absl::OkStatus() : store_.Commit(merged);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    uint64_t bytes = 0;
    for (const auto& op : merged.ops()) bytes += op.key.size() + (op.value ? op.value->size() : 0);

    lock.lock();
    if (!s.ok()) {
      failed_ =
          absl::Status(s.code(), absl::StrCat("group commit of tickets ", durable_ + 1, "..", upto,
                                              ": ", s.message(), " (nothing after ticket ",
                                              durable_, " will be written)"));
      inflight_upto_ = durable_;
      queue_.clear();
      done_[0].notify_all();
      done_[1].notify_all();
      continue;
    }
    stats_.batches += upto - durable_;
    stats_.max_group = std::max(stats_.max_group, upto - durable_);
    if (!merged.empty()) ++stats_.store_commits;
    stats_.bytes += bytes;
    stats_.commit_seconds += seconds;
    durable_ = upto;
    done_[commit_seq_ % 2].notify_all();  // this write's waiters: durable
  }
}

absl::Status GroupCommitter::Sync() {
  uint64_t last;
  {
    std::lock_guard<std::mutex> lock(mu_);
    last = last_ticket_;
  }
  return last == 0 ? absl::OkStatus() : Wait(last);
}

uint64_t GroupCommitter::durable() const {
  std::lock_guard<std::mutex> lock(mu_);
  return durable_;
}

uint64_t GroupCommitter::last_ticket() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_ticket_;
}

GroupCommitter::Stats GroupCommitter::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace minicloud::controller
