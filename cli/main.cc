// minicloud: the command-line client. Verbs, flags and JSON shapes follow `aws ec2`; the verbs
// live in cli/verbs/, the command in cli/app.cc. This file only wires in the real world.
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <thread>

#include "cli/app.h"
#include "cli/compute_api.h"

int main(int argc, char** argv) {
  namespace cli = minicloud::cli;
  cli::CliEnvironment env;
  const char* endpoint = std::getenv("MINICLOUD_ENDPOINT");
  if (endpoint != nullptr && *endpoint) env.default_endpoint = endpoint;
  env.make_api = cli::MakeGrpcComputeApi;
  env.out = &std::cout;
  env.err = &std::cerr;
  env.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  winsize ws{};
  if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
    env.terminal_width = ws.ws_col;
  }
  return cli::RunCli(argc, argv, env);
}
