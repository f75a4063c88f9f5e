#include "agent/network/command.h"

#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"

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

// The pid a shell printed on the first line of `out`, or 0.
int FirstLinePid(const std::string& out) {
  int pid = 0;
  return absl::SimpleAtoi(out.substr(0, out.find('\n')), &pid) ? pid : 0;
}

// Whether `pid` is still a live (not zombie) process.
bool Alive(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
}

TEST_CASE("RunCommand kills a child that outlives its timeout") {
  // The child would run for 10 minutes (ctest's give-up limit ends a RunCommand that waits for
  // it); after the 1 s timeout it must be gone, not left running.
  const std::string pid_file = "/tmp/mc-command-test-" + std::to_string(getpid());
  auto r = RunCommand({"sh", "-c", "echo $$ >" + pid_file + "; exec sleep 600"},
                      CommandOptions{.timeout = absl::Seconds(1), .stdin_data = {}});
  CHECK(absl::IsDeadlineExceeded(r.status()));
  CHECK(absl::StrContains(r.status().message(), "sleep 600"));
  std::ifstream in(pid_file);
  int pid = 0;
  in >> pid;
  std::remove(pid_file.c_str());
  INFO("the shell writes its pid first; none means it did not even start within 1 s");
  REQUIRE(pid > 0);
  CHECK_FALSE(Alive(pid));
  if (Alive(pid)) kill(pid, SIGKILL);
}

TEST_CASE("RunCommand returns when the child exits even if a daemon keeps its pipes") {
  // Like dnsmasq: the foreground process exits, a background descendant holds stdout/stderr.
  // RunCommand returns while that descendant still runs (it would for 10 minutes).
  auto r = RunCommand({"sh", "-c", "sleep 600 & echo $!; exit 0"},
                      CommandOptions{.timeout = absl::Seconds(300), .stdin_data = {}});
  REQUIRE(r.ok());
  CHECK(r->exit_code == 0);
  const int daemon = FirstLinePid(r->out);
  REQUIRE(daemon > 0);
  CHECK(r->out == std::to_string(daemon) + "\n");
  CHECK(Alive(daemon));  // returned without waiting for the pipes to close
  kill(daemon, SIGKILL);
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
