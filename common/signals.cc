#include "common/signals.h"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace minicloud {
namespace {

std::mutex g_mu;
std::condition_variable g_cv;
std::atomic<bool> g_requested{false};
std::thread g_waiter;

}  // namespace

ShutdownSignal::ShutdownSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  g_waiter = std::thread([set] {
    int sig = 0;
    sigwait(&set, &sig);
    {
      std::lock_guard<std::mutex> lock(g_mu);
      g_requested = true;
    }
    g_cv.notify_all();
  });
  g_waiter.detach();
}

ShutdownSignal::~ShutdownSignal() = default;

void ShutdownSignal::Wait() {
  std::unique_lock<std::mutex> lock(g_mu);
  g_cv.wait(lock, [] { return g_requested.load(); });
}

bool ShutdownSignal::WaitFor(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(g_mu);
  return g_cv.wait_for(lock, d, [] { return g_requested.load(); });
}

bool ShutdownSignal::Requested() const { return g_requested; }

}  // namespace minicloud
