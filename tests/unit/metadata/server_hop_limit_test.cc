// The hop limit over real sockets on loopback: token responses go out with the instance's IMDSv2
// hop limit (IP_TTL / IPV6_UNICAST_HOPS, read back from the socket and seen on the wire by an
// AF_PACKET capture on lo), other responses with the default.

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/metadata/server.h"
#include "tests/testing/skip.h"
#include "tests/unit/metadata/http_client.h"
#include "tests/unit/metadata/instance_builder.h"
#include "tests/unit/metadata/server_fixture.h"

namespace minicloud::metadata {
namespace {

using testing::HttpConn;
using testing::MakeInstance;
using testing::MsSince;
using testing::ServerFixture;
using testing::TwoGuests;
using Clock = std::chrono::steady_clock;

TEST_CASE("hop limit: token responses set IP_TTL, others do not") {
  auto guests = TwoGuests();
  guests["127.0.0.4"] = MakeInstance().Id("i-00000000000000004").HopLimit(5).Shared();
  ServerFixture f(guests);
  REQUIRE(f.start_status().ok());

  HttpConn c(f.host(), f.port(), "127.0.0.4");
  auto t = c.Request("PUT", "/latest/api/token", {{"X-aws-ec2-metadata-token-ttl-seconds", "60"}});
  REQUIRE(t);
  REQUIRE(t->status == 200);
  const ServedEvent put = f.WaitFor([](const ServedEvent& e) { return e.method == "PUT"; });
  CHECK(put.instance_id == "i-00000000000000004");
  CHECK(put.ttl_requested == 5);
  CHECK(put.ttl_on_socket == 5);

  auto g =
      c.Request("GET", "/latest/meta-data/instance-id", {{"X-aws-ec2-metadata-token", t->body}});
  REQUIRE(g);
  const ServedEvent get = f.WaitFor([](const ServedEvent& e) { return e.method == "GET"; });
  CHECK(get.status == 200);
  CHECK(get.ttl_requested == 0);
  CHECK(get.ttl_on_socket == -1);

  HttpConn d(f.host(), f.port(), "127.0.0.1");
  auto t1 = d.Request("PUT", "/latest/api/token", {{"X-aws-ec2-metadata-token-ttl-seconds", "60"}});
  REQUIRE(t1);
  const ServedEvent put1 = f.WaitFor([](const ServedEvent& e) {
    return e.method == "PUT" && e.instance_id == "i-00000000000000001";
  });
  CHECK(put1.ttl_on_socket == 1);  // EC2 default hop limit
}

// Captures IPv4 TCP segments on `lo` with an AF_PACKET socket (needs CAP_NET_RAW) and records
// the IP TTL of every segment carrying payload, keyed by (source port, destination port).
class LoopbackCapture {
 public:
  LoopbackCapture() {
    fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (fd_ < 0) return;
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = static_cast<int>(::if_nametoindex("lo"));
    timeval tv{0, 50'000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    // The capture sees all loopback traffic, other tests' included (ctest -j2): a large buffer
    // keeps a busy moment from dropping the few segments this test reads.
    const int buffer = 32 << 20;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof(buffer));
    if (sll.sll_ifindex == 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) != 0) {
      ::close(fd_);
      fd_ = -1;
      return;
    }
    thread_ = std::thread([this] { Run(); });
  }
  ~LoopbackCapture() { Stop(); }
  bool ok() const { return fd_ >= 0; }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // TTLs of payload-carrying segments from sport to dport.
  std::vector<int> Ttls(int sport, int dport) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<int> out;
    for (const auto& s : segments_) {
      if (s.sport == sport && s.dport == dport) out.push_back(s.ttl);
    }
    return out;
  }

 private:
  struct Segment {
    int sport, dport, ttl;
  };
  void Run() {
    unsigned char buf[65536];
    while (!stop_) {
      sockaddr_ll from{};
      socklen_t len = sizeof(from);
      const ssize_t n =
          ::recvfrom(fd_, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n <= 0) continue;
      if (from.sll_pkttype == PACKET_OUTGOING) continue;  // each segment once
      if (n < 14 + 20 || buf[12] != 0x08 || buf[13] != 0x00) continue;
      const unsigned char* ip = buf + 14;
      const int ihl = (ip[0] & 0x0f) * 4;
      if (ip[9] != 6 || n < 14 + ihl + 20) continue;
      const int total = (ip[2] << 8) | ip[3];
      const unsigned char* tcp = ip + ihl;
      const int doff = (tcp[12] >> 4) * 4;
      if (total - ihl - doff <= 0) continue;  // pure ACKs
      std::lock_guard<std::mutex> lock(mu_);
      segments_.push_back({(tcp[0] << 8) | tcp[1], (tcp[2] << 8) | tcp[3], ip[8]});
    }
  }
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<Segment> segments_;
};

// Whether a TCP socket can bind to [::1]: the prerequisite of the IPv6 listener test, checked
// without the server so that a server that fails to listen on IPv6 is a failure, not a skip.
bool LoopbackIpv6Works() {
  const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  ::close(fd);
  return ok;
}

int DefaultTtl() {
  std::ifstream in("/proc/sys/net/ipv4/ip_default_ttl");
  int ttl = 64;
  in >> ttl;
  return ttl;
}

TEST_CASE("hop limit on the wire (AF_PACKET capture on lo)") {
  // The socket is bound before the thread starts: nothing sent later is missed.
  LoopbackCapture cap;
  MC_SKIP_UNLESS(cap.ok(), "an AF_PACKET capture on lo needs CAP_NET_RAW (run as root)");
  auto guests = TwoGuests();
  guests["127.0.0.4"] = MakeInstance().Id("i-00000000000000004").HopLimit(3).Shared();
  ServerFixture f(guests);
  REQUIRE(f.start_status().ok());

  HttpConn tok(f.host(), f.port(), "127.0.0.4");
  auto t =
      tok.Request("PUT", "/latest/api/token", {{"X-aws-ec2-metadata-token-ttl-seconds", "60"}});
  REQUIRE(t);
  REQUIRE(t->status == 200);
  HttpConn plain(f.host(), f.port(), "127.0.0.4");
  auto g = plain.Request("GET", "/latest/meta-data/instance-id");
  REQUIRE(g);
  // A GET after the token on the same connection: restored, or (if the token bytes were still
  // unacknowledged) deliberately left at the hop limit.
  auto g2 = tok.Request("GET", "/latest/meta-data/instance-id");
  REQUIRE(g2);
  // Wait until the capture thread has read the segments of all three answers.
  const auto start = Clock::now();
  while ((cap.Ttls(f.port(), tok.local_port()).size() < 2 ||
          cap.Ttls(f.port(), plain.local_port()).empty() ||
          cap.Ttls(tok.local_port(), f.port()).empty()) &&
         MsSince(start) < ServerFixture::kGiveUpMs) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  cap.Stop();

  const std::vector<int> token_ttls = cap.Ttls(f.port(), tok.local_port());
  const std::vector<int> plain_ttls = cap.Ttls(f.port(), plain.local_port());
  const std::vector<int> request_ttls = cap.Ttls(tok.local_port(), f.port());
  REQUIRE(token_ttls.size() >= 2);  // token response + the later GET response
  REQUIRE_FALSE(plain_ttls.empty());
  CHECK(token_ttls.front() == 3);
  for (int ttl : plain_ttls) CHECK(ttl == DefaultTtl());
  CHECK((token_ttls.back() == 3 || token_ttls.back() == DefaultTtl()));
  for (int ttl : request_ttls) CHECK(ttl == DefaultTtl());  // the client side is untouched
}

TEST_CASE("IPv6 listener applies IPV6_UNICAST_HOPS") {
  MC_SKIP_UNLESS(LoopbackIpv6Works(), "this host has no usable ::1 (IPv6 disabled on lo)");
  ServerOptions opts = ServerFixture::DefaultOptions();
  opts.listen = {boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("::1"), 0)};
  ServerFixture f({{"::1", MakeInstance().HopLimit(2).Shared()}}, opts);
  INFO(f.start_status().ToString());
  REQUIRE(f.start_status().ok());
  HttpConn c("::1", f.port());
  REQUIRE(c.ok());
  auto t = c.Request("PUT", "/latest/api/token", {{"X-aws-ec2-metadata-token-ttl-seconds", "60"}});
  REQUIRE(t);
  CHECK(t->status == 200);
  const ServedEvent put = f.WaitFor([](const ServedEvent& e) { return e.method == "PUT"; });
  CHECK(put.ttl_on_socket == 2);
}

}  // namespace
}  // namespace minicloud::metadata
