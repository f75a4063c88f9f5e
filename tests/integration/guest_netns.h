#pragma once

// A private network namespace where the metadata service and simulated guests meet, so the
// server sees a request come from a guest's own private address (what it keys on), as on a
// host bridge. One thread lives in the namespace (unshare(CLONE_NEWNET) affects only the calling
// thread); sockets created by functions passed to Run() belong to the namespace for their whole
// life, whichever thread uses them later. The rest of the process (gRPC between controller and
// agents on 127.0.0.1) stays in the original namespace. Needs CAP_SYS_ADMIN; nothing outlives
// the object (the namespace goes with its last thread and socket).

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tests/testing/skip.h"

namespace minicloud::testing {

class GuestNetns {
 public:
  GuestNetns() {
    thread_ = std::thread([this] { Loop(); });
    Run([this] {
      if (::unshare(CLONE_NEWNET) != 0) {
        status_ = absl::FailedPreconditionError(
            absl::StrCat("unshare(CLONE_NEWNET): ", std::strerror(errno),
                         " (a private network namespace needs CAP_SYS_ADMIN)"));
        return;
      }
      status_ = BringUp("lo");
    });
  }
  ~GuestNetns() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  GuestNetns(const GuestNetns&) = delete;
  GuestNetns& operator=(const GuestNetns&) = delete;

  const absl::Status& status() const { return status_; }

  // Puts `ipv4` on lo (as alias lo:N, /32), so sockets in the namespace may bind and reach it.
  absl::Status AddAddress(const std::string& ipv4) {
    absl::Status s;
    Run([&] {
      const std::string label = absl::StrCat("lo:", ++aliases_);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      if (::inet_pton(AF_INET, ipv4.c_str(), &a.sin_addr) != 1) {
        s = absl::InvalidArgumentError(absl::StrCat("not an IPv4 address: ", ipv4));
        return;
      }
      s = Set(SIOCSIFADDR, label, [&](ifreq& r) { std::memcpy(&r.ifr_addr, &a, sizeof(a)); });
      if (!s.ok()) return;
      sockaddr_in mask{};
      mask.sin_family = AF_INET;
      mask.sin_addr.s_addr = 0xffffffffu;
      s = Set(SIOCSIFNETMASK, label,
              [&](ifreq& r) { std::memcpy(&r.ifr_netmask, &mask, sizeof(mask)); });
    });
    return s;
  }

  // Runs `fn` on the namespace's thread and returns when it is done.
  void Run(const std::function<void()>& fn) {
    bool done = false;
    std::unique_lock<std::mutex> lock(mu_);
    tasks_.push_back([&] {
      fn();
      std::lock_guard<std::mutex> l(mu_);
      done = true;
      cv_.notify_all();
    });
    cv_.notify_all();
    cv_.wait(lock, [&] { return done; });
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping
      auto task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();
      lock.lock();
    }
  }

  // Sets IFF_UP on interface `name`.
  static absl::Status BringUp(const std::string& name) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
    ifreq r{};
    std::snprintf(r.ifr_name, IFNAMSIZ, "%s", name.c_str());
    absl::Status s;
    if (::ioctl(fd, SIOCGIFFLAGS, &r) != 0) {
      s = absl::InternalError(absl::StrCat("SIOCGIFFLAGS ", name, ": ", std::strerror(errno)));
    } else {
      r.ifr_flags |= IFF_UP;
      if (::ioctl(fd, SIOCSIFFLAGS, &r) != 0) {
        s = absl::InternalError(absl::StrCat("SIOCSIFFLAGS ", name, ": ", std::strerror(errno)));
      }
    }
    ::close(fd);
    return s;
  }
  // Issues the interface request `set` on `name` after `fill` filled it in.
  static absl::Status Set(unsigned long set, const std::string& name,
                          const std::function<void(ifreq&)>& fill) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
    ifreq r{};
    std::snprintf(r.ifr_name, IFNAMSIZ, "%s", name.c_str());
    fill(r);
    absl::Status s;
    if (::ioctl(fd, set, &r) != 0) {
      s = absl::InternalError(absl::StrCat("ioctl ", name, ": ", std::strerror(errno)));
    }
    ::close(fd);
    return s;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stop_ = false;
  int aliases_ = 0;
  absl::Status status_;
  std::thread thread_;  // last: started once the rest exists
};

}  // namespace minicloud::testing
