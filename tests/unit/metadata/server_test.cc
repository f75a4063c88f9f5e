// The HTTP layer over real sockets on loopback: wire format, keep-alive, limits, timeouts,
// per-source connection caps, per-instance throttling (the hop limit on token responses:
// server_hop_limit_test.cc).

#include "agent/metadata/server.h"

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

// Client-side close is asynchronous for the server: wait until it has seen it.
bool WaitOpenConnections(Server& s, int n, int timeout_ms = ServerFixture::kGiveUpMs) {
  const auto start = Clock::now();
  while (MsSince(start) < timeout_ms) {
    if (s.stats().connections_open <= n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

TEST_CASE("serves EC2-shaped responses over HTTP") {
  ServerFixture f(TwoGuests());
  REQUIRE(f.start_status().ok());
  HttpConn c(f.host(), f.port());
  REQUIRE(c.ok());
  auto r = c.Request("GET", "/latest/meta-data/instance-id");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == "i-00000000000000001");
  CHECK(r->header("content-type") == "text/plain");
  CHECK(r->header("content-length") == "19");
  CHECK(r->header("server") == "EC2ws");
  CHECK(r->header("date") == "Tue, 14 Nov 2023 22:13:20 GMT");  // the FakeClock's time

  SECTION("source address picks the instance") {
    HttpConn c2(f.host(), f.port(), "127.0.0.2");
    REQUIRE(c2.ok());
    auto r2 = c2.Request("GET", "/latest/meta-data/local-ipv4");
    REQUIRE(r2);
    CHECK(r2->body == "10.0.0.6");
  }
  SECTION("unknown source is refused") {
    HttpConn c3(f.host(), f.port(), "127.0.0.9");
    REQUIRE(c3.ok());
    auto r3 = c3.Request("GET", "/latest/meta-data/instance-id");
    REQUIRE(r3);
    CHECK(r3->status == 403);
  }
  SECTION("404 page") {
    auto r4 = c.Request("GET", "/latest/meta-data/nope");
    REQUIRE(r4);
    CHECK(r4->status == 404);
    CHECK(r4->header("content-type") == "text/html");
    CHECK(r4->body.find("<title>404 - Not Found</title>") != std::string::npos);
  }
}

TEST_CASE("keep-alive, Connection: close, HTTP/1.0, HEAD") {
  ServerFixture f(TwoGuests());
  REQUIRE(f.start_status().ok());

  SECTION("several requests on one connection") {
    HttpConn c(f.host(), f.port());
    for (int i = 0; i < 5; ++i) {
      auto r = c.Request("GET", "/latest/meta-data/ami-id");
      REQUIRE(r);
      CHECK(r->status == 200);
      CHECK(r->header("connection") != "close");
    }
  }
  SECTION("pipelined requests are answered in order") {
    HttpConn c(f.host(), f.port());
    REQUIRE(
        c.Send("GET /latest/meta-data/ami-id HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /latest/meta-data/instance-type HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto a = c.Read();
    auto b = c.Read();
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->body == "ami-0abcdef1234567890");
    CHECK(b->body == "t3.micro");
  }
  SECTION("Connection: close closes after the response") {
    HttpConn c(f.host(), f.port());
    auto r = c.Request("GET", "/latest/meta-data/ami-id", {{"Connection", "close"}});
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->header("connection") == "close");
    CHECK(c.ClosedWithin(ServerFixture::kGiveUpMs));
  }
  SECTION("HTTP/1.0 without keep-alive closes") {
    HttpConn c(f.host(), f.port());
    REQUIRE(c.Send("GET /latest/meta-data/ami-id HTTP/1.0\r\n\r\n"));
    auto r = c.Read();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "ami-0abcdef1234567890");
    CHECK(c.ClosedWithin(ServerFixture::kGiveUpMs));
  }
  SECTION("HEAD: Content-Length of the GET, no body bytes") {
    HttpConn c(f.host(), f.port());
    auto h = c.Request("HEAD", "/latest/meta-data/instance-id");
    REQUIRE(h);
    CHECK(h->status == 200);
    CHECK(h->header("content-length") == "19");
    // The next response parses cleanly only if HEAD sent no body.
    auto g = c.Request("GET", "/latest/meta-data/instance-type");
    REQUIRE(g);
    CHECK(g->body == "t3.micro");
  }
  SECTION("405 carries Allow") {
    HttpConn c(f.host(), f.port());
    auto r = c.Request("DELETE", "/latest/meta-data/");
    REQUIRE(r);
    CHECK(r->status == 405);
    CHECK(r->header("allow") == "GET, HEAD, PUT");
  }
}

TEST_CASE("IMDSv2 over the wire: token, TTL echo, 401, X-Forwarded-For") {
  ServerFixture f(TwoGuests());
  REQUIRE(f.start_status().ok());
  HttpConn c(f.host(), f.port());
  auto t = c.Request("PUT", "/latest/api/token", {{"X-aws-ec2-metadata-token-ttl-seconds", "60"}});
  REQUIRE(t);
  REQUIRE(t->status == 200);
  CHECK(t->header("x-aws-ec2-metadata-token-ttl-seconds") == "60");
  const std::string token = t->body;
  auto g = c.Request("GET", "/latest/meta-data/instance-id", {{"X-aws-ec2-metadata-token", token}});
  REQUIRE(g);
  CHECK(g->status == 200);

  // The other guest cannot use it.
  HttpConn other(f.host(), f.port(), "127.0.0.2");
  auto o =
      other.Request("GET", "/latest/meta-data/instance-id", {{"X-aws-ec2-metadata-token", token}});
  REQUIRE(o);
  CHECK(o->status == 401);

  f.clock().Advance(absl::Seconds(61));
  auto e = c.Request("GET", "/latest/meta-data/instance-id", {{"X-aws-ec2-metadata-token", token}});
  REQUIRE(e);
  CHECK(e->status == 401);

  auto x =
      c.Request("PUT", "/latest/api/token",
                {{"X-aws-ec2-metadata-token-ttl-seconds", "60"}, {"X-Forwarded-For", "192.0.2.1"}});
  REQUIRE(x);
  CHECK(x->status == 403);
  auto bad = c.Request("PUT", "/latest/api/token", {{"X-aws-ec2-metadata-token-ttl-seconds", "0"}});
  REQUIRE(bad);
  CHECK(bad->status == 400);
}

TEST_CASE("malformed and oversized requests get 400/413 and a close") {
  ServerFixture f(TwoGuests());
  REQUIRE(f.start_status().ok());
  struct Row {
    std::string name;
    std::string bytes;
    int status;
  };
  const std::vector<Row> rows = {
      {"garbage line", "\x16\x03\x01\x02\x00 hello\r\n\r\n", 400},
      {"no version", "GET /\r\n\r\n", 400},
      {"bad version", "GET / HTTP/9\r\n\r\n", 400},
      {"space in header name", "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", 400},
      {"bad content-length", "PUT / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400},
      {"bad chunk", "PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
      {"headers over 8 KiB",
       absl::StrCat("GET / HTTP/1.1\r\nX-Big: ", std::string(9000, 'a'), "\r\n\r\n"), 400},
      {"many small headers over 8 KiB",
       [] {
         std::string s = "GET / HTTP/1.1\r\n";
         for (int i = 0; i < 1000; ++i) absl::StrAppend(&s, "X-", i, ": v\r\n");
         return s + "\r\n";
       }(),
       400},
      {"body over the limit (declared)",
       "PUT /latest/api/token HTTP/1.1\r\nContent-Length: 100000\r\n\r\n", 413},
  };
  for (const Row& row : rows) {
    INFO(row.name);
    HttpConn c(f.host(), f.port());
    REQUIRE(c.ok());
    REQUIRE(c.Send(row.bytes));
    auto r = c.Read();
    REQUIRE(r);
    CHECK(r->status == row.status);
    CHECK(r->header("connection") == "close");
    CHECK(c.ClosedWithin(ServerFixture::kGiveUpMs));
  }
  CHECK(f.server().stats().bad_requests == rows.size());

  // The server is still fine.
  HttpConn ok(f.host(), f.port());
  auto r = ok.Request("GET", "/latest/meta-data/instance-id");
  REQUIRE(r);
  CHECK(r->status == 200);
}

TEST_CASE("slowloris: a dripping and an idle connection do not hold up another guest") {
  // The request timeout is a give-up limit here: both connections stay open throughout.
  ServerOptions opts = ServerFixture::DefaultOptions();
  opts.request_timeout = absl::Seconds(120);
  ServerFixture f(TwoGuests(), opts);
  REQUIRE(f.start_status().ok());
  HttpConn drip(f.host(), f.port());
  REQUIRE(drip.ok());
  REQUIRE(drip.Send("GET /latest/meta-data/ HTTP/1.1\r\nHost: x\r\nX-Slow: "));
  HttpConn idle(f.host(), f.port(), "127.0.0.2");
  REQUIRE(idle.ok());
  for (int i = 0; i < 10; ++i) {
    REQUIRE(drip.Send("a"));
    HttpConn c(f.host(), f.port(), "127.0.0.2");
    auto r = c.Request("GET", "/latest/meta-data/instance-id");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "i-00000000000000002");
  }
  // Served while both were held: a server that handled one connection at a time would have
  // answered only after cutting them.
  CHECK_FALSE(drip.ClosedNow());
  CHECK_FALSE(idle.ClosedNow());
  CHECK(f.server().stats().timeouts == 0);
}

TEST_CASE("slowloris: a request not complete within the request timeout is cut") {
  // The timeout bounds the whole request, not the gap between bytes: a client dripping a header
  // byte every 100 ms is cut, as is one that sends nothing. Neither is cut before the timeout.
  ServerOptions opts = ServerFixture::DefaultOptions();
  opts.request_timeout = absl::Seconds(1);
  ServerFixture f(TwoGuests(), opts);
  REQUIRE(f.start_status().ok());

  const auto start = Clock::now();  // before connecting: the server's clock starts later
  HttpConn drip(f.host(), f.port());
  HttpConn idle(f.host(), f.port(), "127.0.0.2");
  REQUIRE(drip.ok());
  REQUIRE(idle.ok());
  REQUIRE(drip.Send("GET /latest/meta-data/ HTTP/1.1\r\nHost: x\r\nX-Slow: "));
  bool cut = false;
  while (!cut && MsSince(start) < ServerFixture::kGiveUpMs) {
    cut = !drip.Send("a") || drip.ClosedWithin(100);
  }
  const int64_t cut_after_ms = MsSince(start);
  INFO("dripping connection cut after " << cut_after_ms << " ms");
  REQUIRE(cut);                 // by the server, not by the give-up limit
  CHECK(cut_after_ms >= 1000);  // not before the timeout
  CHECK(idle.ClosedWithin(ServerFixture::kGiveUpMs));
  // The client sees the close a moment before the server's read handler counts it.
  while (f.server().stats().timeouts < 2 && MsSince(start) < ServerFixture::kGiveUpMs) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CHECK(f.server().stats().timeouts == 2);

  // The server is still fine.
  HttpConn ok(f.host(), f.port());
  auto r = ok.Request("GET", "/latest/meta-data/instance-id");
  REQUIRE(r);
  CHECK(r->status == 200);
}

TEST_CASE("connections per source are capped") {
  ServerOptions opts = ServerFixture::DefaultOptions();
  opts.max_connections_per_source = 4;
  auto guests = TwoGuests();
  guests["127.0.0.3"] = MakeInstance().Id("i-00000000000000003").Shared();
  ServerFixture f(guests, opts);
  REQUIRE(f.start_status().ok());

  std::vector<std::unique_ptr<HttpConn>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<HttpConn>(f.host(), f.port(), "127.0.0.3"));
    auto r = held.back()->Request("GET", "/latest/meta-data/instance-id");
    REQUIRE(r);
    CHECK(r->status == 200);
  }
  HttpConn extra(f.host(), f.port(), "127.0.0.3");
  REQUIRE(extra.ok());
  CHECK(extra.ClosedWithin(ServerFixture::kGiveUpMs));
  CHECK(f.server().stats().connections_rejected >= 1);

  {  // Other sources are unaffected.
    HttpConn other(f.host(), f.port(), "127.0.0.2");
    auto r = other.Request("GET", "/latest/meta-data/instance-id");
    REQUIRE(r);
    CHECK(r->status == 200);
  }

  // Closing one frees a slot.
  held.pop_back();
  REQUIRE(WaitOpenConnections(f.server(), 3));
  HttpConn again(f.host(), f.port(), "127.0.0.3");
  auto r2 = again.Request("GET", "/latest/meta-data/instance-id");
  REQUIRE(r2);
  CHECK(r2->status == 200);
}

TEST_CASE("a flooding guest gets 429 while another guest is served promptly") {
  ServerOptions opts = ServerFixture::DefaultOptions();
  opts.requests_per_second = 5;
  opts.burst = 50;
  opts.max_connections_per_source = 8;
  ServerFixture f(TwoGuests(), opts);  // FakeClock: buckets refill only when the test says so
  REQUIRE(f.start_status().ok());

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, throttled{0}, other{0};
  std::vector<std::thread> flood;
  for (int i = 0; i < 8; ++i) {
    flood.emplace_back([&] {
      HttpConn c(f.host(), f.port(), "127.0.0.1");
      while (!stop && c.ok()) {
        auto r = c.Request("GET", "/latest/meta-data/instance-id");
        if (!r) break;
        if (r->status == 200) {
          ++ok;
        } else if (r->status == 429) {
          ++throttled;
        } else {
          ++other;
        }
      }
    });
  }
  // The flood is on: the bucket's burst is used up and refusals pile up.
  const auto start = Clock::now();
  while (throttled < 100 && MsSince(start) < ServerFixture::kGiveUpMs) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  REQUIRE(throttled >= 100);
  const int throttled_before = throttled;
  for (int i = 0; i < 30; ++i) {
    HttpConn c(f.host(), f.port(), "127.0.0.2");
    auto r = c.Request("GET", "/latest/meta-data/instance-id");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "i-00000000000000002");
  }
  const int throttled_during = throttled - throttled_before;
  stop = true;
  for (auto& t : flood) t.join();
  INFO("flood: ok=" << ok << " throttled=" << throttled << " (" << throttled_during
                    << " while the other guest was served)");
  CHECK(throttled_during > 0);  // the other guest was served while the flood went on
  CHECK(ok == 50);              // exactly the burst: the FakeClock never refilled the bucket
  CHECK(other == 0);

  // 429 shape, then refill with time.
  REQUIRE(WaitOpenConnections(f.server(), 0));
  HttpConn c(f.host(), f.port(), "127.0.0.1");
  auto r = c.Request("GET", "/latest/meta-data/instance-id");
  REQUIRE(r);
  CHECK(r->status == 429);
  CHECK(r->header("retry-after") == "1");
  f.clock().Advance(absl::Seconds(1));
  auto r2 = c.Request("GET", "/latest/meta-data/instance-id");
  REQUIRE(r2);
  CHECK(r2->status == 200);
}

TEST_CASE("several io threads (strand per connection) serve concurrent clients") {
  ServerOptions opts = ServerFixture::DefaultOptions();
  opts.threads = 4;
  opts.requests_per_second = 1000;
  opts.burst = 100000;
  ServerFixture f(TwoGuests(), opts);
  REQUIRE(f.start_status().ok());
  std::atomic<int> good{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&, t] {
      HttpConn c(f.host(), f.port(), t % 2 ? "127.0.0.2" : "127.0.0.1");
      const std::string id = t % 2 ? "i-00000000000000002" : "i-00000000000000001";
      auto tok =
          c.Request("PUT", "/latest/api/token", {{"X-aws-ec2-metadata-token-ttl-seconds", "60"}});
      if (!tok || tok->status != 200) return;
      for (int i = 0; i < 200; ++i) {
        auto r = c.Request("GET", "/latest/meta-data/instance-id",
                           {{"X-aws-ec2-metadata-token", tok->body}});
        if (r && r->status == 200 && r->body == id) ++good;
      }
    });
  }
  for (auto& t : clients) t.join();
  CHECK(good == 8 * 200);
  CHECK(f.server().stats().requests == 8 * 201);
}

TEST_CASE("a request in absolute form is refused on the wire, origin form still served") {
  ServerFixture f(TwoGuests());
  REQUIRE(f.start_status().ok());
  HttpConn c(f.host(), f.port());
  auto refused = c.Request("GET", "http://evil/latest/meta-data/instance-id");
  REQUIRE(refused);
  CHECK(refused->status == 403);
  CHECK(refused->body.find("i-00000000000000001") == std::string::npos);
  auto own = c.Request("GET", "http://169.254.169.254/latest/meta-data/instance-id");
  REQUIRE(own);
  CHECK(own->status == 403);
  auto origin = c.Request("GET", "/latest/meta-data/instance-id");  // same connection
  REQUIRE(origin);
  CHECK(origin->status == 200);
  CHECK(origin->body == "i-00000000000000001");
}

TEST_CASE("lifecycle: bind errors, double start, stop closes connections") {
  ServerFixture f(TwoGuests());
  REQUIRE(f.start_status().ok());
  CHECK(f.server().Start().code() == absl::StatusCode::kFailedPrecondition);

  ServerOptions clash = ServerFixture::DefaultOptions();
  clash.listen = {boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                                 static_cast<uint16_t>(f.port()))};
  ServerFixture g(TwoGuests(), clash);
  CHECK(g.start_status().code() == absl::StatusCode::kUnavailable);
  CHECK(g.start_status().message().find("127.0.0.1") != std::string::npos);

  HttpConn c(f.host(), f.port());
  auto r = c.Request("GET", "/latest/meta-data/instance-id");
  REQUIRE(r);
  f.server().Stop();
  CHECK(c.ClosedWithin(ServerFixture::kGiveUpMs));
  f.server().Stop();  // idempotent
  CHECK(f.server().local_endpoints().empty());
}

}  // namespace
}  // namespace minicloud::metadata
