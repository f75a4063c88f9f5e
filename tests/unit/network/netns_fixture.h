#pragma once

// Test-only scaffolding for real network tests: throw-away network namespaces, simulated guests
// (a veth whose host end plays the tap, its peer "eth0" in the guest's own namespace) and a tiny
// HTTP server that answers with the client's address (what the metadata server keys on).
// Everything created here is deleted by destructors, also when a REQUIRE fails.

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/network/command.h"

namespace minicloud::network::testing {

// Root, `ip netns`, nft, dnsmasq and busybox (udhcpc, wget, arping) are all usable.
bool CanRunNetworkTests(std::string* why);

// 8 random hex digits, for namespace names.
std::string RandomSuffix();

// RunCommand that never fails to return: errors become exit_code -1 with the message in err.
CommandResult Exec(const std::vector<std::string>& argv, absl::Duration timeout = absl::Seconds(15),
                   std::string stdin_data = "");

// A plain HTTP/1.0 GET of "http://host[:port]/path" through `busybox nc` run in `netns` (busybox
// wget segfaults in Debian 12's busybox-static). The body on a 200 response.
absl::StatusOr<std::string> HttpGetIn(const std::string& netns, const std::string& url);

class ScopedNetns {
 public:
  explicit ScopedNetns(std::string name);  // ip netns add + lo up; ok() tells
  ~ScopedNetns();                          // kills what runs inside, ip netns del
  ScopedNetns(const ScopedNetns&) = delete;
  ScopedNetns& operator=(const ScopedNetns&) = delete;

  bool ok() const { return ok_; }
  const std::string& name() const { return name_; }
  // argv run inside the namespace.
  CommandResult Run(std::vector<std::string> argv, absl::Duration timeout = absl::Seconds(15),
                    std::string stdin_data = "") const;

 private:
  std::string name_;
  bool ok_ = false;
};

class Guest {
 public:
  // Creates the guest namespace "<ns_prefix>-<label>", a veth pair `tap` (in host_ns, attached
  // to `bridge`) <-> eth0 (in the guest, with `mac`). `work_dir` holds the udhcpc script.
  Guest(const std::string& ns_prefix, const std::string& label, const std::string& host_ns,
        const std::string& bridge, std::string tap, std::string mac, std::string work_dir);

  bool ok() const { return ns_.ok() && ok_; }
  const std::string& tap() const { return tap_; }
  const ScopedNetns& ns() const { return ns_; }

  // Runs busybox udhcpc once; on a lease, configures eth0 + default route and returns the
  // variables udhcpc passed to its script (ip, mask, router, hostname, serverid, lease, dns,
  // domain).
  absl::StatusOr<std::map<std::string, std::string>> Dhcp(int tries = 4) const;
  // HttpGetIn from the guest; the body on success.
  absl::StatusOr<std::string> HttpGet(const std::string& url) const;
  // Static configuration, as a misbehaving guest would do it.
  absl::Status SetIp(const std::string& cidr, const std::string& gateway) const;
  absl::Status SetMac(const std::string& mac) const;

 private:
  ScopedNetns ns_;
  std::string tap_;
  std::string work_dir_;
  bool ok_ = false;
};

// An HTTP/1.0 server on ip:port inside `netns` whose body is the client's IPv4 address.
class PeerEchoServer {
 public:
  PeerEchoServer(const std::string& netns, const std::string& ip, int port);
  ~PeerEchoServer();
  PeerEchoServer(const PeerEchoServer&) = delete;
  PeerEchoServer& operator=(const PeerEchoServer&) = delete;

  const absl::Status& status() const { return status_; }  // bind result

 private:
  void Serve(int fd);

  absl::Status status_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace minicloud::network::testing
