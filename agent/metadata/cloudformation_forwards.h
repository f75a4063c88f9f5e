#pragma once

// Guest CloudFormation requests in flight between the metadata server and its forwarder
// (ServerOptions::cloudformation). A connection waiting for an answer is held here, not by the
// forwarder's callback, so that the server's Stop() can release it while its io_context still
// exists; an answer that arrives after Stop() closed the gate posts nothing.

#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <set>

#include "agent/metadata/server.h"

namespace minicloud::metadata {

class CloudFormationForwards {
 public:
  // A fresh, open gate (Start()); callbacks made before keep the gate they were made with.
  void Open();
  // Answers arriving from now on are dropped (Stop(), before the io_context stops).
  void Close();

  // Holds `waiter` (a connection) until End(waiter) or ReleaseWaiters(). A waiter is never
  // destroyed under this class's lock (its destructor may take the server's).
  void Begin(std::shared_ptr<void> waiter);
  void End(const std::shared_ptr<void>& waiter);
  // Drops every held connection, on the caller's thread (Stop(), after the io threads joined).
  void ReleaseWaiters();
  int pending() const;

  // The `done` handed to the forwarder: posts `deliver(answer)` to `executor` unless the gate
  // was closed in between.
  ForwardDone Deliver(boost::asio::any_io_executor executor,
                      std::function<void(Response)> deliver) const;

 private:
  struct Gate {
    std::mutex mu;
    bool open = true;
  };

  mutable std::mutex mu_;
  std::shared_ptr<Gate> gate_ = std::make_shared<Gate>();  // guarded by mu_
  std::set<std::shared_ptr<void>> waiting_;                // guarded by mu_
};

}  // namespace minicloud::metadata
