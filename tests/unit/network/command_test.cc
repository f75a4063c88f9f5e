#include "agent/network/command.h"

#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "absl/strings/match.h"

namespace minicloud::network {
namespace {

TEST_CASE("RunCommand captures stdout, stderr and the exit status") {
  auto r = RunCommand({"sh", "-c", "echo out; echo err >&2; exit 3"});
  REQUIRE(r.ok());
  CHECK(r->exit_code == 3);
  CHECK(r->out == "out\n");
  CHECK(r->err == "err\n");
}

TEST_CASE("RunCommand passes argv verbatim, without a shell") {
  auto r = RunCommand({"printf", "%s|", "a b", "$HOME", "'q'", ";ls"});
  REQUIRE(r.ok());
  CHECK(r->exit_code == 0);
  CHECK(r->out == "a b|$HOME|'q'|;ls|");
}

TEST_CASE("RunCommand feeds stdin, large inputs included") {
  std::string big(1 << 20, 'x');
  big += "END";
  auto r =
      RunCommand({"wc", "-c"}, CommandOptions{.timeout = absl::Seconds(10), .stdin_data = big});
  REQUIRE(r.ok());
  CHECK(r->out == std::to_string(big.size()) + "\n");

  // A child that ignores its stdin must not make the writer die of SIGPIPE.
  auto ignored =
      RunCommand({"true"}, CommandOptions{.timeout = absl::Seconds(10), .stdin_data = big});
  REQUIRE(ignored.ok());
  CHECK(ignored->exit_code == 0);
}

TEST_CASE("RunCommand captures large outputs on both streams") {
  auto r = RunCommand({"sh", "-c",
                       "head -c 300000 /dev/zero | tr '\\0' a; "
                       "head -c 200000 /dev/zero | tr '\\0' b >&2"});
  REQUIRE(r.ok());
  CHECK(r->out.size() == 300000);
  CHECK(r->err.size() == 200000);
}

TEST_CASE("RunCommand kills a child that outlives its timeout") {
  const auto start = std::chrono::steady_clock::now();
  auto r = RunCommand({"sleep", "30"},
                      CommandOptions{.timeout = absl::Milliseconds(200), .stdin_data = {}});
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(absl::IsDeadlineExceeded(r.status()));
  CHECK(absl::StrContains(r.status().message(), "sleep 30"));
  CHECK(took < std::chrono::seconds(5));
}

TEST_CASE("RunCommand returns when the child exits even if a daemon keeps its pipes") {
  // Like dnsmasq: the foreground process exits, a background descendant holds stdout/stderr.
  const auto start = std::chrono::steady_clock::now();
  auto r = RunCommand({"sh", "-c", "echo started; sleep 3 & exit 0"},
                      CommandOptions{.timeout = absl::Seconds(20), .stdin_data = {}});
  const auto took = std::chrono::steady_clock::now() - start;
  REQUIRE(r.ok());
  CHECK(r->exit_code == 0);
  CHECK(r->out == "started\n");
  CHECK(took < std::chrono::milliseconds(2500));
}

TEST_CASE("RunCommand reports programs that cannot run") {
  CHECK(absl::IsNotFound(RunCommand({"minicloud-no-such-program"}).status()));
  CHECK(absl::IsNotFound(RunCommand({"/nonexistent/prog"}).status()));
  CHECK(absl::IsFailedPrecondition(RunCommand({"/etc/hostname"}).status()));  // not executable
  CHECK(absl::IsInvalidArgument(RunCommand({}).status()));
}

TEST_CASE("RunCommand gives the child an empty signal mask") {
  // The agent blocks SIGTERM for its signal thread; children must not inherit that.
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, &old);
  auto r = RunCommand({"grep", "^SigBlk", "/proc/self/status"});
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  REQUIRE(r.ok());
  CHECK(r->out == "SigBlk:\t0000000000000000\n");
}

TEST_CASE("RunCommand leaves only stdin, stdout and stderr open in the child") {
  auto r = RunCommand({"ls", "/proc/self/fd"});
  REQUIRE(r.ok());
  // 0, 1, 2 and the directory ls itself opened.
  CHECK(std::count(r->out.begin(), r->out.end(), '\n') == 4);
}

TEST_CASE("RunCommandOk turns a failure into a status carrying stderr") {
  auto ok = RunCommandOk({"echo", "hi"});
  REQUIRE(ok.ok());
  CHECK(*ok == "hi\n");
  auto bad = RunCommandOk({"sh", "-c", "echo 'RTNETLINK answers: File exists' >&2; exit 2"});
  CHECK(absl::IsInternal(bad.status()));
  CHECK(bad.status().message() == "RTNETLINK answers: File exists (exit status 2)");
  auto quiet = RunCommandOk({"false"});
  CHECK(quiet.status().message() == "(exit status 1)");
}

TEST_CASE("ArgvToString quotes what a shell would split") {
  CHECK(ArgvToString({"ip", "link", "set", "dev", "x", "up"}) == "ip link set dev x up");
  CHECK(ArgvToString({"echo", "a b", "it's", ""}) == "echo 'a b' 'it'\\''s' ''");
}

}  // namespace
}  // namespace minicloud::network
