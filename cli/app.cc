#include "cli/app.h"

#include "absl/strings/match.h"
#include "cli/cli_input.h"
#include "cli/output.h"
#include "cli/suggest.h"

#ifndef MINICLOUD_VERSION
#define MINICLOUD_VERSION "0.0.0"
#endif

namespace minicloud::cli {
namespace {

// CLI11's message for an unknown first word (or an unknown word after a service word), turned
// into the aws CLI's "maybe you meant".
bool ReportUnknownVerb(CLI::App& app, const std::vector<std::string>& args, std::ostream& err) {
  CLI::App* level = &app;
  std::string path = "minicloud";
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (absl::StartsWith(a, "-")) {
      const CLI::Option* o =
          a.find('=') == std::string::npos ? app.get_option_no_throw(a) : nullptr;
      if (o != nullptr && o->get_expected_min() > 0) ++i;
      continue;
    }
    if (CLI::App* sub = SubcommandNamed(*level, a)) {
      if (!IsServiceWord(*sub)) return false;
      level = sub;
      path += " " + a;
      continue;
    }
    std::vector<std::string> names;
    for (CLI::App* sub : level->get_subcommands([](CLI::App*) { return true; })) {
      names.push_back(sub->get_name());
    }
    err << "usage: " << path << " [options] <verb> [parameters]\nTo see help text, you can run:\n\n"
        << "  " << path << " --help\n  " << path << " <verb> --help\n\n"
        << path << ": error: argument verb: Invalid choice: '" << a << "'";
    const auto close = ClosestNames(a, names);
    if (close.empty()) {
      err << ", see " << path << " --help for the verbs\n";
    } else {
      err << ", maybe you meant:\n\n";
      for (const auto& n : close) err << "  * " << n << "\n";
    }
    return true;
  }
  return false;
}

}  // namespace

int RunCli(int argc, const char* const* argv, const CliEnvironment& env) {
  std::ostream& out = *env.out;
  std::ostream& err = *env.err;
  CLI::App app{"minicloud: EC2 at home. Verbs and output follow `aws ec2`."};
  app.require_subcommand(1);
  // Global options: accepted before the verb and, as with the aws CLI, anywhere after it
  // (subcommands inherit fallthrough, so an option a verb does not know is tried on the app).
  app.fallthrough();
  GlobalOptions globals;
  globals.endpoint = env.default_endpoint;
  globals.terminal_width = env.terminal_width;
  app.add_option("--endpoint", globals.endpoint, "controller address (env MINICLOUD_ENDPOINT)")
      ->capture_default_str();
  CLI::Option* output = app.add_option("--output", globals.output, "json | table | text")
                            ->check(CLI::IsMember({"json", "table", "text"}))
                            ->capture_default_str();
  app.add_option("--query", globals.query, "JMESPath expression applied to the output");
  app.add_option("--cli-read-timeout", globals.timeout_s, "seconds to wait for an answer")
      ->capture_default_str();
  app.add_option("--profile", globals.profile,
                 "aws credentials profile (else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                 "AWS_PROFILE, [default])");
  app.add_option("--region", globals.region,
                 "region the requests are signed for (else AWS_REGION, AWS_DEFAULT_REGION, the "
                 "profile's, home-1)");
  app.set_version_flag("--version", std::string("minicloud/") + MINICLOUD_VERSION);

  VerbRegistry verbs(app);
  RegisterInstanceVerbs(verbs);
  RegisterImageVerbs(verbs);
  RegisterKeyPairVerbs(verbs);
  RegisterInstanceProfileVerbs(verbs);
  RegisterPlacementVerbs(verbs);
  RegisterVolumeVerbs(verbs);
  RegisterSnapshotVerbs(verbs);
  RegisterHostVerbs(verbs);
  RegisterTagVerbs(verbs);
  RegisterStatusVerbs(verbs);
  RegisterAccessKeyVerbs(verbs);
  RegisterCloudFormationVerbs(verbs);

  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (ReportUnknownVerb(app, args, err)) return kExitUsage;
    if (CLI::App* verb = FindVerb(app, args)) {
      for (const auto& a : args) {
        if (a == "--generate-cli-skeleton" || absl::StartsWith(a, "--generate-cli-skeleton=")) {
          out << Skeleton(*verb).dump(4) << "\n";
          return 0;
        }
      }
      args = ExpandCliInputJson(*verb, std::move(args));
    }
  } catch (const UsageError& e) {
    err << "\n" << e.what() << "\n";
    return kExitUsage;
  }

  // CLI11 splits a value written "[a,b]" at its commas; a JSON list must reach the verb whole
  // (the structure parsers skip the space added here).
  for (auto& a : args) {
    const size_t eq = absl::StartsWith(a, "--") ? a.find('=') : std::string::npos;
    const size_t at = eq == std::string::npos ? 0 : eq + 1;
    if (a.size() > at && a[at] == '[' && a.back() == ']') a.insert(at, " ");
  }
  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 pops from the back
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return app.exit(e, out, err) == 0 ? 0 : kExitUsage;
  }
  globals.output_given = output->count() > 0;

  try {
    std::unique_ptr<ComputeApi> api = env.make_api(globals);
    VerbContext ctx{globals, *api, out, err, env.sleep};
    return verbs.Run(ctx);
  } catch (const UsageError& e) {
    err << "\n" << e.what() << "\n";
    return kExitUsage;
  } catch (const ConfigError& e) {
    err << "\n" << e.what() << "\n";
    return kExitConfig;
  } catch (const ServiceError& e) {
    err << "\nAn error occurred (" << e.code << ") when calling the " << e.operation
        << " operation: " << e.what() << "\n"
        << e.hint;
    return kExitServiceError;
  }
}

}  // namespace minicloud::cli
