// The metadata server out of file descriptors: accept pauses instead of spinning, the log stays at
// one line per interval, guests already connected go on being served, a waiting guest is served
// once descriptors are free again; and the connection cap stays below the descriptor limit.
// Lowers this process's own RLIMIT_NOFILE and restores it afterwards.

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "agent/metadata/server.h"
#include "spdlog/sinks/base_sink.h"
#include "spdlog/spdlog.h"
#include "tests/unit/metadata/http_client.h"
#include "tests/unit/metadata/instance_builder.h"
#include "tests/unit/metadata/server_fixture.h"

namespace minicloud::metadata {
namespace {

using testing::HttpConn;
using testing::MakeInstance;
using testing::MsSince;
using testing::ServerFixture;
using SteadyClock = std::chrono::steady_clock;

// Every line logged through the default logger while it exists.
class CapturedLog : public spdlog::sinks::base_sink<std::mutex> {
 public:
  static std::shared_ptr<CapturedLog> Attach() {
    auto sink = std::make_shared<CapturedLog>();
    spdlog::default_logger()->sinks().push_back(sink);
    return sink;
  }
  static void Detach(const std::shared_ptr<CapturedLog>& sink) {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink), sinks.end());
  }

  int Count(const std::string& needle) {
    std::lock_guard<std::mutex> lock(mutex_);
    int n = 0;
    for (const std::string& line : lines_) n += absl::StrContains(line, needle) ? 1 : 0;
    return n;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    lines_.emplace_back(msg.payload.data(), msg.payload.size());
  }
  void flush_() override {}

 private:
  std::vector<std::string> lines_;  // guarded by mutex_
};

// Detaches the capture when the test ends (after the server, declared later, has stopped).
struct LogAttachment {
  std::shared_ptr<CapturedLog> log = CapturedLog::Attach();
  ~LogAttachment() { CapturedLog::Detach(log); }
};

// Sets the soft RLIMIT_NOFILE for the test; restores the previous limits at the end.
class ScopedFdLimit {
 public:
  explicit ScopedFdLimit(rlim_t soft) {
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved_) == 0);
    rlimit r = saved_;
    r.rlim_cur = soft;
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &r) == 0);
  }
  ~ScopedFdLimit() { ::setrlimit(RLIMIT_NOFILE, &saved_); }

 private:
  rlimit saved_{};
};

// Takes every free descriptor (stands for the rest of the agent using them up).
class FdHog {
 public:
  void TakeAll() {
    for (;;) {
      const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        REQUIRE(errno == EMFILE);
        return;
      }
      fds_.push_back(fd);
    }
  }
  void GiveBack(size_t n) {
    for (; n > 0 && !fds_.empty(); --n) {
      ::close(fds_.back());
      fds_.pop_back();
    }
  }
  ~FdHog() { GiveBack(fds_.size()); }

 private:
  std::vector<int> fds_;
};

TEST_CASE("ConnectionCap: the configured cap, at most half of the descriptor limit") {
  struct Row {
    int configured;
    uint64_t fd_limit;
    int cap;
  };
  const Row rows[] = {
      {4096, 1024, 512},    // Debian's default soft limit
      {4096, 65536, 4096},  // raised limit: the configured cap
      {4096, 8192, 4096},   // exactly half
      {4096, 8191, 4095},   // odd limit rounds down
      {100, 1000, 100},     // small configured cap
      {4096, 1, 1},         // absurdly low limit: still one connection
      {0, 1000, 1},         // nonsense configuration: one connection
      {-5, 1000, 1},        //
      {4096, std::numeric_limits<uint64_t>::max(), 4096},  // unlimited
  };
  for (const Row& row : rows) {
    INFO("configured " << row.configured << ", limit " << row.fd_limit);
    CHECK(ConnectionCap(row.configured, row.fd_limit) == row.cap);
  }
}

TEST_CASE("out of descriptors: accept pauses, logs once, and every guest is served") {
  LogAttachment capture;
  ScopedFdLimit low_limit(256);

  ServerOptions opts = ServerFixture::DefaultOptions();
  opts.request_timeout =
      absl::Seconds(60);  // guest A's keep-alive connection waits between requests
  opts.accept_backoff_min = absl::Milliseconds(20);
  opts.accept_backoff_max = absl::Milliseconds(100);
  opts.accept_error_log_interval = absl::Hours(1);  // exactly one report during the test
  ServerFixture f({{"127.0.0.2", MakeInstance().Id("i-0000000000000000a").Shared()},
                   {"127.0.0.3", MakeInstance().Id("i-0000000000000000b").Shared()}},
                  opts);
  REQUIRE(f.start_status().ok());
  // The configured 4096 would exceed the limit; the server holds at most half of it.
  CHECK(f.server().stats().connection_cap == 128);

  HttpConn a(f.host(), f.port(), "127.0.0.2", ServerFixture::kGiveUpMs);
  auto first = a.Request("GET", "/latest/meta-data/instance-id");
  REQUIRE(first);
  REQUIRE(first->status == 200);

  FdHog hog;
  hog.TakeAll();
  hog.GiveBack(1);  // exactly one left: guest B's client socket; the server gets none
  HttpConn b(f.host(), f.port(), "127.0.0.3", ServerFixture::kGiveUpMs);
  REQUIRE(b.ok());  // connected: the kernel queues it until the server accepts
  REQUIRE(b.Send("GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n"));

  // The server keeps trying (after pauses) and keeps failing while the descriptors are taken.
  const auto exhausted_since = SteadyClock::now();
  while (f.server().stats().accept_errors < 4 &&
         MsSince(exhausted_since) < ServerFixture::kGiveUpMs) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const uint64_t errors = f.server().stats().accept_errors;
  const int64_t elapsed_ms = MsSince(exhausted_since);
  REQUIRE(errors >= 4);
  // Paused at least accept_backoff_min between attempts: no more than one attempt per 20 ms
  // of the time that passed (retrying at once makes hundreds of thousands).
  CHECK(errors <= static_cast<uint64_t>(elapsed_ms / 20 + 1));

  // Guest A, connected before, is served meanwhile.
  for (int i = 0; i < 3; ++i) {
    auto r = a.Request("GET", "/latest/meta-data/instance-id");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "i-0000000000000000a");
  }
  // One line for all those failures.
  CHECK(capture.log->Count("accept failed") == 1);
  CHECK(capture.log->Count("accepting connections again") == 0);

  // Descriptors come back: guest B, waiting all along, is accepted and answered.
  hog.GiveBack(std::numeric_limits<size_t>::max());
  auto rb = b.Read();
  REQUIRE(rb);
  CHECK(rb->status == 200);
  CHECK(rb->body == "i-0000000000000000b");
  CHECK(capture.log->Count("accept failed") == 1);
  CHECK(capture.log->Count("accepting connections again") == 1);

  // And new connections work as before.
  HttpConn c(f.host(), f.port(), "127.0.0.3", ServerFixture::kGiveUpMs);
  auto rc = c.Request("GET", "/latest/meta-data/instance-id");
  REQUIRE(rc);
  CHECK(rc->status == 200);
  CHECK(capture.log->Count("accepting connections again") == 1);
}

}  // namespace
}  // namespace minicloud::metadata
