// process::RunCapturingOutput with real processes (/bin/sh and coreutils): exit status and
// signal as a Status naming the command, the bounded tails, merged streams, stdin, the timeout,
// and programs that cannot run. Each case names the one-line bug it catches.

#include "common/process/run.h"

#include <signal.h>

#include <catch2/catch.hpp>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace minicloud::process {
namespace {

TEST_CASE("RunCapturingOutput: a non-zero exit is a Status naming the command") {
  // Catches: the exit status dropped (status OK whatever the code), or the message without the
  // command or without what the program said on stderr.
  auto r = RunCapturingOutput({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"});
  REQUIRE(r.ok());
  CHECK(r->exit_code == 3);
  CHECK(r->signal == 0);
  CHECK(r->out == "out\n");
  CHECK(r->err == "err\n");
  CHECK_FALSE(r->ok());
  CHECK(absl::IsInternal(r->status));
  CHECK(r->status.message() ==
        "'/bin/sh -c 'echo out; echo err >&2; exit 3'' exited with status 3: err");

  auto quiet = RunCapturingOutput({"/bin/sh", "-c", "echo only-stdout; exit 1"});
  REQUIRE(quiet.ok());
  // Catches: stdout not quoted when stderr is empty.
  CHECK(absl::EndsWith(quiet->status.message(), "exited with status 1: only-stdout"));
}

TEST_CASE("RunCapturingOutput: exit 0 is OK") {
  // Catches: a zero exit reported as a failure.
  auto r = RunCapturingOutput({"/bin/sh", "-c", "echo fine"});
  REQUIRE(r.ok());
  CHECK(r->exit_code == 0);
  CHECK(r->status.ok());
  CHECK(r->out == "fine\n");
}

TEST_CASE("RunCapturingOutput keeps only the tail of a long output") {
  // 300000 bytes of 'a' then "END" on both streams, with a 1000-byte bound. Catches: the head
  // kept instead of the tail, or no bound at all.
  RunOptions options;
  options.max_output_bytes = 1000;
  auto r = RunCapturingOutput({"/bin/sh", "-c",
                               "head -c 300000 /dev/zero | tr '\\0' a; printf END; "
                               "head -c 300000 /dev/zero | tr '\\0' b >&2; printf END >&2; "
                               "exit 4"},
                              options);
  REQUIRE(r.ok());
  CHECK(r->out.size() == 1000);
  CHECK(r->err.size() == 1000);
  CHECK(r->out == std::string(997, 'a') + "END");
  CHECK(r->err == std::string(997, 'b') + "END");
  // The message quotes a tail too (2000 bytes at most), never the whole output. Catches: the
  // message growing with the output.
  CHECK(r->status.message().size() < 1200);
  CHECK(absl::EndsWith(r->status.message(), "bbbEND"));
}

TEST_CASE("RunCapturingOutput reports a death by signal") {
  // Catches: a signal death read as an exit status (WEXITSTATUS of a signalled child is 0: it
  // would look like success).
  auto r = RunCapturingOutput({"/bin/sh", "-c", "echo dying >&2; kill -TERM $$"});
  REQUIRE(r.ok());
  CHECK(r->signal == SIGTERM);
  CHECK(r->exit_code == -1);
  CHECK_FALSE(r->ok());
  CHECK(absl::StrContains(r->status.message(), "was killed by signal 15"));
  CHECK(absl::StrContains(r->status.message(), "/bin/sh -c"));
  CHECK(absl::EndsWith(r->status.message(), ": dying"));
}

TEST_CASE("RunCapturingOutput reports a program that cannot run") {
  // Catches: a missing program turned into an exit status 127 instead of NotFound.
  auto missing = RunCapturingOutput({"minicloud-no-such-program", "x"});
  CHECK(absl::IsNotFound(missing.status()));
  CHECK(absl::StrContains(missing.status().message(), "minicloud-no-such-program"));
  CHECK(absl::IsNotFound(RunCapturingOutput({"/nonexistent/prog"}).status()));
  CHECK(absl::IsFailedPrecondition(RunCapturingOutput({"/etc/hostname"}).status()));
  CHECK(absl::IsInvalidArgument(RunCapturingOutput({}).status()));
}

TEST_CASE("RunCapturingOutput merges stderr into stdout on request") {
  // Catches: merge_stderr ignored (the middle line would land in err).
  RunOptions options;
  options.merge_stderr = true;
  auto r = RunCapturingOutput({"/bin/sh", "-c", "echo a; echo b >&2; echo c"}, options);
  REQUIRE(r.ok());
  CHECK(r->out == "a\nb\nc\n");
  CHECK(r->err.empty());
}

TEST_CASE("RunCapturingOutput feeds stdin") {
  // Catches: stdin_data not written (wc would count 0), or written only in part.
  RunOptions options;
  options.stdin_data = std::string(1 << 20, 'x');
  auto r = RunCapturingOutput({"wc", "-c"}, options);
  REQUIRE(r.ok());
  CHECK(r->out == absl::StrCat(1 << 20, "\n"));
}

TEST_CASE("RunCapturingOutput kills a program that outlives its timeout") {
  // Catches: the timeout ignored (the call would wait the full 600 s), or the command not named.
  RunOptions options;
  options.timeout = absl::Milliseconds(500);
  const absl::Time start = absl::Now();
  auto r = RunCapturingOutput({"sleep", "600"}, options);
  CHECK(absl::IsDeadlineExceeded(r.status()));
  CHECK(absl::StrContains(r.status().message(), "'sleep 600' timed out"));
  CHECK(absl::Now() - start < absl::Seconds(30));
}

TEST_CASE("ArgvToString quotes what a shell would split") {
  // Catches: arguments with spaces or quotes printed bare (the message would misname them).
  CHECK(ArgvToString({"ip", "link", "set", "dev", "x", "up"}) == "ip link set dev x up");
  CHECK(ArgvToString({"echo", "a b", "it's", ""}) == "echo 'a b' 'it'\\''s' ''");
}

}  // namespace
}  // namespace minicloud::process
