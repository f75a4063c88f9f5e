#pragma once

// The pieces every verb is made of: the global options, the context a handler runs in, and the
// registry that ties a CLI11 subcommand to its handler. A handler reads its flags, builds one
// request, sends it through ComputeApi and renders the answer to `out`; it never touches
// std::cout, the network or the clock directly, so tests run it against a fake API.

#include <CLI/CLI.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "cli/compute_api.h"

namespace minicloud::cli {

// Exit codes as the aws CLI uses them.
constexpr int kExitUsage = 252;
constexpr int kExitConfig = 253;  // no credentials, a missing profile
constexpr int kExitServiceError = 254;
constexpr int kExitWaiterFailed = 255;

// Bad command-line input (a shorthand that does not parse, a file that cannot be read): printed
// as the aws CLI prints it, exit code kExitUsage.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The environment or configuration does not allow a call (no credentials, an unknown profile):
// printed as the aws CLI prints it, exit code kExitConfig.
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Options accepted before or after the verb, as the aws CLI's global options.
struct GlobalOptions {
  std::string endpoint;
  std::string output = "json";  // json | table | text
  double timeout_s = 60;        // --cli-read-timeout
  bool output_given = false;    // --output was on the line (a boot verdict defaults to text)
  std::string profile;          // --profile: the aws credentials/config profile
  std::string region;           // --region: the credential scope's region
  std::string query;            // --query: JMESPath over the output (cli/jmespath.h)
  int terminal_width = 80;      // --output table: wider tables turn one-row sections vertical
};

struct VerbContext {
  const GlobalOptions& globals;
  ComputeApi& api;
  std::ostream& out;
  std::ostream& err;
  // Waits between two polls of a waiter.
  std::function<void(std::chrono::milliseconds)> sleep;
  // The operation the verb mirrors ("describe-hosts" -> "DescribeHosts"): the title of tables.
  std::string operation = "";
};

// Runs one verb; returns the process exit code. Throws UsageError or ServiceError.
using VerbHandler = std::function<int(VerbContext&)>;

class VerbRegistry {
 public:
  explicit VerbRegistry(CLI::App& app)
      : app_(app), verbs_(std::make_shared<std::vector<std::pair<CLI::App*, VerbHandler>>>()) {}

  // A new subcommand `name` whose handler runs when it is the verb on the line. The caller adds
  // the verb's own flags to the returned subcommand.
  CLI::App* Add(const std::string& name, const std::string& description, VerbHandler handler);

  // Runs the handler of the verb that was parsed (CLI11 requires exactly one), with
  // ctx.operation set from its name.
  int Run(VerbContext& ctx) const;

  // A service word whose verbs are added to the returned registry ("minicloud cloudformation
  // create-stack"): the verbs of another aws service keep their aws names under it, the way
  // `aws <service> <operation>` spells them. Verbs added there run through this registry's Run.
  VerbRegistry Group(const std::string& name, const std::string& description);

  // The names accepted at this level (verbs and service words), for suggestions.
  std::vector<std::string> Names() const;

 private:
  VerbRegistry(CLI::App& app, std::shared_ptr<std::vector<std::pair<CLI::App*, VerbHandler>>> verbs)
      : app_(app), verbs_(std::move(verbs)) {}

  CLI::App& app_;
  // Shared by a registry and its groups: every verb of the command, at any level.
  std::shared_ptr<std::vector<std::pair<CLI::App*, VerbHandler>>> verbs_;
};

// Prints `doc` as the aws CLI prints a response: --query applied, then --output json, text or
// table in the aws CLI's layouts (cli/output.h), the table titled by ctx.operation.
void Print(VerbContext& ctx, const nlohmann::json& doc);
// Older form: array_key and columns are no longer used (the aws layouts need neither).
void Print(VerbContext& ctx, const nlohmann::json& doc, const std::string& array_key,
           const std::vector<std::string>& columns);

// "describe-hosts" -> "DescribeHosts"
std::string OperationName(const std::string& verb);

// Each group of verbs registers itself (cli/verbs/*.cc).
void RegisterInstanceVerbs(VerbRegistry& verbs);
void RegisterImageVerbs(VerbRegistry& verbs);
void RegisterKeyPairVerbs(VerbRegistry& verbs);
void RegisterPlacementVerbs(VerbRegistry& verbs);
void RegisterVolumeVerbs(VerbRegistry& verbs);    // verbs/volumes.cc
void RegisterSnapshotVerbs(VerbRegistry& verbs);  // verbs/snapshots.cc
void RegisterHostVerbs(VerbRegistry& verbs);
void RegisterInstanceProfileVerbs(VerbRegistry& verbs);
void RegisterTagVerbs(VerbRegistry& verbs);
void RegisterStatusVerbs(VerbRegistry& verbs);
void RegisterAccessKeyVerbs(VerbRegistry& verbs);
// The `cloudformation` service word and its verbs (verbs/cloudformation.cc, verbs/stack_wait.cc).
void RegisterCloudFormationVerbs(VerbRegistry& verbs);

}  // namespace minicloud::cli
