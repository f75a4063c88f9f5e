#pragma once

#include <chrono>

namespace minicloud {

// Blocks SIGINT and SIGTERM in every thread created after construction and lets threads wait
// for one of them. Create it in main() before starting other threads. One per process.
class ShutdownSignal {
 public:
  ShutdownSignal();
  ~ShutdownSignal();
  // Blocks until SIGINT/SIGTERM arrived.
  void Wait();
  // Waits up to `d`; true if shutdown was requested.
  bool WaitFor(std::chrono::milliseconds d);
  bool Requested() const;
};

}  // namespace minicloud
