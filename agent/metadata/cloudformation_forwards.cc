#include "agent/metadata/cloudformation_forwards.h"

#include <boost/asio/post.hpp>
#include <utility>

namespace minicloud::metadata {

void CloudFormationForwards::Open() {
  std::lock_guard<std::mutex> lock(mu_);
  gate_ = std::make_shared<Gate>();
}

void CloudFormationForwards::Close() {
  std::shared_ptr<Gate> gate;
  {
    std::lock_guard<std::mutex> lock(mu_);
    gate = gate_;
  }
  std::lock_guard<std::mutex> lock(gate->mu);
  gate->open = false;
}

void CloudFormationForwards::Begin(std::shared_ptr<void> waiter) {
  std::lock_guard<std::mutex> lock(mu_);
  waiting_.insert(std::move(waiter));
}

void CloudFormationForwards::End(const std::shared_ptr<void>& waiter) {
  std::shared_ptr<void> released;  // if it was the last reference: destroyed after the unlock
  std::lock_guard<std::mutex> lock(mu_);
  auto it = waiting_.find(waiter);
  if (it == waiting_.end()) return;
  released = *it;
  waiting_.erase(it);
}

void CloudFormationForwards::ReleaseWaiters() {
  std::set<std::shared_ptr<void>> waiting;
  {
    std::lock_guard<std::mutex> lock(mu_);
    waiting.swap(waiting_);
  }
  waiting.clear();  // their sockets go here, outside the lock
}

int CloudFormationForwards::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(waiting_.size());
}

ForwardDone CloudFormationForwards::Deliver(boost::asio::any_io_executor executor,
                                            std::function<void(Response)> deliver) const {
  std::shared_ptr<Gate> gate;
  {
    std::lock_guard<std::mutex> lock(mu_);
    gate = gate_;
  }
  return
      [gate = std::move(gate), ex = std::move(executor), deliver = std::move(deliver)](Response r) {
        std::lock_guard<std::mutex> lock(gate->mu);
        if (!gate->open) return;  // the server stopped
        boost::asio::post(ex, [deliver, r = std::move(r)]() mutable { deliver(std::move(r)); });
      };
}

}  // namespace minicloud::metadata
