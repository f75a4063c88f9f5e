// The metadata server's routes besides IMDS over real sockets on loopback: /cloudformation/...
// handed to the forwarder (a recording fake here; the real one is exercised by
// tests/integration/guest_cloudformation_test.cc) and the helper archive served from a file.
//
// One-line bugs each test catches:
//  - "forwards": the instance id taken from the wrong lookup, the body or a header dropped, the
//    target not cut after the prefix, the forwarded status/content type not written.
//  - "waiting does not block": calling the forwarder's answer synchronously on the io thread (a
//    blocking forwarder) — guest 2's IMDS GET would wait for guest 1's answer.
//  - "body limits": one limit for every route (5 KiB signal refused, or 5 KiB token PUT taken).
//  - "no forwarder": a null forwarder called (crash) instead of 503.
//  - "rate limit": the forward path skipping TakeToken.
//  - "stop": posting an answer after Stop() into a destroyed io_context (crash under ASan).
//  - "archive": a stale cache after the file changed; HEAD writing the body; a missing file
//    answered 200.

#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/metadata/guest_routes.h"
#include "agent/metadata/server.h"
#include "tests/testing/temp_dir.h"
#include "tests/unit/metadata/http_client.h"
#include "tests/unit/metadata/instance_builder.h"
#include "tests/unit/metadata/server_fixture.h"

namespace minicloud::metadata {
namespace {

using testing::HttpConn;
using testing::MakeInstance;
using testing::ServerFixture;
using testing::TwoGuests;

// Records what it is given; answers at once, or keeps `done` for the test to call.
struct RecordingForwarder {
  std::mutex mu;
  std::vector<ForwardRequest> seen;
  std::vector<ForwardDone> held;
  bool hold = false;

  Forwarder AsForwarder() {
    return [this](ForwardRequest r, ForwardDone done) {
      std::lock_guard<std::mutex> lock(mu);
      seen.push_back(r);
      if (hold) {
        held.push_back(std::move(done));
        return;
      }
      Response resp;
      resp.status = 201;
      resp.headers.Add("Content-Type", "application/json");
      resp.body = absl::StrCat("{\"instance\":\"", r.instance_id, "\",\"target\":\"", r.target,
                               "\",\"bytes\":", r.body.size(), "}");
      done(std::move(resp));
    };
  }
  size_t held_count() {
    std::lock_guard<std::mutex> lock(mu);
    return held.size();
  }
};

std::string Post(const std::string& target, const std::string& body,
                 const std::string& extra_headers = "") {
  return absl::StrCat("POST ", target,
                      " HTTP/1.1\r\nHost: 169.254.169.254\r\nContent-Type: "
                      "application/x-www-form-urlencoded\r\n",
                      extra_headers, "Content-Length: ", body.size(), "\r\n\r\n", body);
}

TEST_CASE("metadata server forwards /cloudformation/ with the instance of the source address",
          "[metadata][guest]") {
  RecordingForwarder fwd;
  ServerOptions options = ServerFixture::DefaultOptions();
  options.cloudformation = fwd.AsForwarder();
  ServerFixture f(TwoGuests(), options);
  REQUIRE(f.start_status().ok());

  const std::string body =
      "Action=DescribeStackResource&StackName=web&LogicalResourceId=Web&ContentType=JSON";
  HttpConn c(f.host(), f.port(), "127.0.0.2");
  REQUIRE(c.ok());
  REQUIRE(c.Send(Post("/cloudformation/?Version=2010-05-15", body, "X-Custom: yes\r\n")));
  auto r = c.Read();
  REQUIRE(r);
  CHECK(r->status == 201);
  CHECK(r->header("content-type") == "application/json");
  CHECK(r->body == absl::StrCat("{\"instance\":\"i-00000000000000002\",\"target\":\"/"
                                "?Version=2010-05-15\",\"bytes\":",
                                body.size(), "}"));
  {
    std::lock_guard<std::mutex> lock(fwd.mu);
    REQUIRE(fwd.seen.size() == 1);
    const ForwardRequest& seen = fwd.seen[0];
    CHECK(seen.instance_id == "i-00000000000000002");
    CHECK(seen.method == "POST");
    CHECK(seen.target == "/?Version=2010-05-15");
    CHECK(seen.body == body);
    CHECK(seen.headers.Get("Content-Type") == "application/x-www-form-urlencoded");
    CHECK(seen.headers.Get("X-Custom") == "yes");
  }
  // Keep-alive: the same connection goes on with IMDS.
  auto imds = c.Request("GET", "/latest/meta-data/instance-id");
  REQUIRE(imds);
  CHECK(imds->body == "i-00000000000000002");
  // HEAD: the forwarded answer's length, no body.
  auto head = c.Request("HEAD", "/cloudformation/x");
  REQUIRE(head);
  CHECK(head->status == 201);
  CHECK(head->body.empty());
  CHECK(head->header("content-length") != "0");

  // An unknown source is refused here and never forwarded.
  HttpConn stranger(f.host(), f.port(), "127.0.0.9");
  REQUIRE(stranger.ok());
  auto refused = stranger.Request("GET", "/cloudformation/?Action=DescribeStackResource");
  REQUIRE(refused);
  CHECK(refused->status == 403);
  std::lock_guard<std::mutex> lock(fwd.mu);
  CHECK(fwd.seen.size() == 2);
}

TEST_CASE("waiting for the controller does not block other guests (one io thread)",
          "[metadata][guest]") {
  RecordingForwarder fwd;
  fwd.hold = true;
  ServerOptions options = ServerFixture::DefaultOptions();
  options.threads = 1;
  options.cloudformation = fwd.AsForwarder();
  ServerFixture f(TwoGuests(), options);
  REQUIRE(f.start_status().ok());

  HttpConn waiting(f.host(), f.port(), "127.0.0.1");
  REQUIRE(waiting.ok());
  REQUIRE(waiting.Send(Post("/cloudformation/", "Action=SignalResource")));
  REQUIRE(ServerFixture::kGiveUpMs > 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (fwd.held_count() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  REQUIRE(fwd.held_count() == 1);
  CHECK(f.server().stats().forwards_pending == 1);

  // Meanwhile another guest is served.
  HttpConn other(f.host(), f.port(), "127.0.0.2");
  REQUIRE(other.ok());
  auto r = other.Request("GET", "/latest/meta-data/instance-id");
  REQUIRE(r);
  CHECK(r->body == "i-00000000000000002");

  // The answer arrives from another thread.
  ForwardDone done;
  {
    std::lock_guard<std::mutex> lock(fwd.mu);
    done = fwd.held[0];
  }
  std::thread([done] {
    Response resp;
    resp.status = 200;
    resp.headers.Add("Content-Type", "text/xml");
    resp.body = "<ok/>";
    done(resp);
    done(resp);  // a second answer is ignored
  }).join();
  auto answered = waiting.Read();
  REQUIRE(answered);
  CHECK(answered->status == 200);
  CHECK(answered->body == "<ok/>");
  CHECK(f.server().stats().forwards_pending == 0);
  CHECK(f.server().stats().forwarded == 1);
  // Only one response on the connection.
  auto next = waiting.Request("GET", "/latest/meta-data/instance-id");
  REQUIRE(next);
  CHECK(next->body == "i-00000000000000001");
}

TEST_CASE("body limits: 64 KiB for CloudFormation, the IMDS limit elsewhere", "[metadata][guest]") {
  RecordingForwarder fwd;
  ServerOptions options = ServerFixture::DefaultOptions();
  options.cloudformation = fwd.AsForwarder();
  ServerFixture f(TwoGuests(), options);
  REQUIRE(f.start_status().ok());
  {
    HttpConn c(f.host(), f.port());
    REQUIRE(c.ok());
    REQUIRE(c.Send(Post("/cloudformation/", std::string(5 * 1024, 'a'))));
    auto r = c.Read();
    REQUIRE(r);
    CHECK(r->status == 201);
  }
  {
    HttpConn c(f.host(), f.port());
    REQUIRE(c.ok());
    REQUIRE(c.Send(Post("/cloudformation/", std::string(kMaxCloudFormationBody, 'a'))));
    auto r = c.Read();
    REQUIRE(r);
    CHECK(r->status == 201);
  }
  {
    HttpConn c(f.host(), f.port());
    REQUIRE(c.ok());
    REQUIRE(c.Send(Post("/cloudformation/", std::string(kMaxCloudFormationBody + 1, 'a'))));
    auto r = c.Read();
    REQUIRE(r);
    CHECK(r->status == 413);
    CHECK(r->header("connection") == "close");
  }
  {
    // Chunked: the limit counts the body as it arrives.
    HttpConn c(f.host(), f.port());
    REQUIRE(c.ok());
    std::string chunked =
        "POST /cloudformation/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 17; ++i)
      absl::StrAppend(&chunked, "1000\r\n", std::string(4096, 'b'), "\r\n");
    chunked += "0\r\n\r\n";
    REQUIRE(c.Send(chunked));
    auto r = c.Read();
    REQUIRE(r);
    CHECK(r->status == 413);
  }
  {
    HttpConn c(f.host(), f.port());
    REQUIRE(c.ok());
    REQUIRE(c.Send(Post("/latest/api/token", std::string(5 * 1024, 'a'))));
    auto r = c.Read();
    REQUIRE(r);
    CHECK(r->status == 413);
  }
  std::lock_guard<std::mutex> lock(fwd.mu);
  CHECK(fwd.seen.size() == 2);
}

TEST_CASE("no forwarder: 503, rate limit shared with IMDS", "[metadata][guest]") {
  ServerOptions options = ServerFixture::DefaultOptions();
  options.requests_per_second = 1;
  options.burst = 2;
  ServerFixture f(TwoGuests(), options);
  REQUIRE(f.start_status().ok());
  HttpConn c(f.host(), f.port());
  REQUIRE(c.ok());
  auto r = c.Request("GET", "/cloudformation/?Action=DescribeStackResource");
  REQUIRE(r);
  CHECK(r->status == 503);
  CHECK(r->body.find("controller") != std::string::npos);
  auto imds = c.Request("GET", "/latest/meta-data/instance-id");
  REQUIRE(imds);
  CHECK(imds->status == 200);
  // The fake clock stands still: the bucket is empty now.
  auto throttled = c.Request("GET", "/cloudformation/?Action=DescribeStackResource");
  REQUIRE(throttled);
  CHECK(throttled->status == 429);
}

TEST_CASE("stopping with a forward pending, the late answer is dropped", "[metadata][guest]") {
  RecordingForwarder fwd;
  fwd.hold = true;
  ServerOptions options = ServerFixture::DefaultOptions();
  options.cloudformation = fwd.AsForwarder();
  auto f = std::make_unique<ServerFixture>(TwoGuests(), options);
  REQUIRE(f->start_status().ok());
  HttpConn c(f->host(), f->port());
  REQUIRE(c.ok());
  REQUIRE(c.Send(Post("/cloudformation/", "Action=SignalResource")));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (fwd.held_count() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  REQUIRE(fwd.held_count() == 1);
  f->server().Stop();
  CHECK(c.ClosedWithin(ServerFixture::kGiveUpMs));
  f.reset();
  Response late;
  late.status = 200;
  fwd.held[0](late);  // after the server is gone: nothing happens
  SUCCEED("no crash");
}

TEST_CASE("the helper archive: served from the file, re-read when it changes, 404 without",
          "[metadata][guest]") {
  minicloud::testing::TempDir dir;
  const std::string path = dir.path() + "/cfn-bootstrap.tar.gz";
  ServerOptions options = ServerFixture::DefaultOptions();
  options.cfn_bootstrap_archive = path;
  ServerFixture f(TwoGuests(), options);
  REQUIRE(f.start_status().ok());
  const std::string target(kCfnBootstrapPath);

  HttpConn c(f.host(), f.port());
  REQUIRE(c.ok());
  auto missing = c.Request("GET", target);
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(missing->body.find("cfn_bootstrap_archive") != std::string::npos);

  std::string bytes(3 * 1024 * 1024 + 7, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 131) % 251);
  {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  auto got = c.Request("GET", target);
  REQUIRE(got);
  CHECK(got->status == 200);
  CHECK(got->header("content-type") == "application/gzip");
  CHECK(got->body.size() == bytes.size());
  CHECK(got->body == bytes);

  auto head = c.Request("HEAD", target);
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->header("content-length") == std::to_string(bytes.size()));
  CHECK(head->body.empty());
  // The connection is still in step after HEAD.
  auto after = c.Request("GET", "/latest/meta-data/instance-id");
  REQUIRE(after);
  CHECK(after->body == "i-00000000000000001");

  // A new build replaces the file (rename, as make/install do).
  const std::string next = dir.path() + "/next";
  {
    std::ofstream out(next, std::ios::binary);
    out << "new archive";
  }
  REQUIRE(::rename(next.c_str(), path.c_str()) == 0);
  auto renewed = c.Request("GET", target);
  REQUIRE(renewed);
  CHECK(renewed->body == "new archive");

  HttpConn stranger(f.host(), f.port(), "127.0.0.9");
  REQUIRE(stranger.ok());
  auto refused = stranger.Request("GET", target);
  REQUIRE(refused);
  CHECK(refused->status == 403);
}

}  // namespace
}  // namespace minicloud::metadata
