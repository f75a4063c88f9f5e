#pragma once

// A real metadata Server on 127.0.0.1:0 (hermetic: port 0, loopback only) with a table of
// source address -> instance, a FakeClock, and the served-event hook recorded for assertions.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/metadata/server.h"
#include "common/clock.h"
#include "tests/unit/metadata/instance_builder.h"

namespace minicloud::metadata::testing {

class ServerFixture {
 public:
  // Waits in tests are give-up limits, not expectations: generous for a loaded machine.
  static constexpr int kGiveUpMs = 30'000;

  static ServerOptions DefaultOptions() {
    ServerOptions o;
    o.listen = {boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)};
    o.request_timeout = absl::Seconds(2);
    o.requests_per_second = 0;  // tests that need throttling turn it on
    return o;
  }

  // `token_key` signs the tokens: a fixture with another key plays an agent that restarted
  // (the agent makes a new key at every start).
  explicit ServerFixture(std::map<std::string, std::shared_ptr<const InstanceMetadata>> by_ip,
                         ServerOptions options = DefaultOptions(),
                         const std::string& token_key = std::string(32, 's'))
      : by_ip_(std::move(by_ip)) {
    server_ = std::make_unique<Server>(
        std::move(options),
        [this](const boost::asio::ip::address& peer) -> std::shared_ptr<const InstanceMetadata> {
          std::lock_guard<std::mutex> lock(mu_);
          auto it = by_ip_.find(peer.to_string());
          return it == by_ip_.end() ? nullptr : it->second;
        },
        *TokenAuthority::WithKey(token_key), clock_,
        [this](const ServedEvent& e) {
          std::lock_guard<std::mutex> lock(mu_);
          events_.push_back(e);
          cv_.notify_all();
        });
    start_status_ = server_->Start();
  }

  const absl::Status& start_status() const { return start_status_; }
  Server& server() { return *server_; }
  FakeClock& clock() { return clock_; }
  int port() const { return server_->local_endpoints().at(0).port(); }
  std::string host() const { return server_->local_endpoints().at(0).address().to_string(); }

  // Waits for an event matching `pred`; returns it (or a default event with status 0 when the
  // give-up limit passed).
  ServedEvent WaitFor(const std::function<bool(const ServedEvent&)>& pred,
                      int timeout_ms = kGiveUpMs) {
    std::unique_lock<std::mutex> lock(mu_);
    ServedEvent found;
    cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
      for (const auto& e : events_) {
        if (pred(e)) {
          found = e;
          return true;
        }
      }
      return false;
    });
    return found;
  }

  // The events once at least `n` were recorded (the server records an event after it wrote the
  // response, so a client can see the answer first); fewer if the give-up limit passed.
  std::vector<ServedEvent> WaitForEvents(size_t n, int timeout_ms = kGiveUpMs) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return events_.size() >= n; });
    return events_;
  }

  std::vector<ServedEvent> events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }

 private:
  FakeClock clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::shared_ptr<const InstanceMetadata>> by_ip_;
  std::vector<ServedEvent> events_;
  std::unique_ptr<Server> server_;  // last: stopped before the rest goes away
  absl::Status start_status_;
};

// Two guests: 127.0.0.1 is i-00000000000000001, 127.0.0.2 is i-00000000000000002 (10.0.0.6).
inline std::map<std::string, std::shared_ptr<const InstanceMetadata>> TwoGuests() {
  return {{"127.0.0.1", MakeInstance().Id("i-00000000000000001").Shared()},
          {"127.0.0.2", MakeInstance().Id("i-00000000000000002").Ip("10.0.0.6").Shared()}};
}

// Milliseconds of the steady clock since `t`.
inline int64_t MsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t)
      .count();
}

}  // namespace minicloud::metadata::testing
