#pragma once

// The whole `minicloud` command as a function of its arguments and streams: global options, the
// verbs of cli/verbs/, parsing, dispatch and the aws-style error lines and exit codes. main()
// calls it with the real gRPC API; tests call it with a fake one.

#include <chrono>
#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "cli/compute_api.h"
#include "cli/verb.h"

namespace minicloud::cli {

struct CliEnvironment {
  std::string default_endpoint = "127.0.0.1:7700";  // --endpoint when not given
  // Connects to the controller once the options are known.
  std::function<std::unique_ptr<ComputeApi>(const GlobalOptions&)> make_api;
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  std::function<void(std::chrono::milliseconds)> sleep;  // between polls of waiters
  int terminal_width = 80;  // columns of the terminal on stdout (80 when it is not one, as aws)
};

// Parses argv (argv[0] is the program), runs the verb and returns the exit code: 0, 1 (a failed
// boot verdict or placement), 252 usage, 254 service error, 255 waiter failed. --version and
// --help print to `out` and return 0.
int RunCli(int argc, const char* const* argv, const CliEnvironment& env);

}  // namespace minicloud::cli
