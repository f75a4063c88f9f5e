#include "cli/app.h"

namespace minicloud::cli {

int RunCli(int argc, const char* const* argv, const CliEnvironment& env) {
  std::ostream& out = *env.out;
  std::ostream& err = *env.err;
  CLI::App app{"minicloud: EC2 at home. Verbs and output follow `aws ec2`."};
  app.require_subcommand(1);
  // Global options: accepted before the verb and, as with the aws CLI, after it (subcommands
  // inherit fallthrough, so an option a verb does not know is tried on the app).
  app.fallthrough();
  GlobalOptions globals;
  globals.endpoint = env.default_endpoint;
  app.add_option("--endpoint", globals.endpoint, "controller address (env MINICLOUD_ENDPOINT)")
      ->capture_default_str();
  CLI::Option* output = app.add_option("--output", globals.output, "json | table | text")
                            ->check(CLI::IsMember({"json", "table", "text"}))
                            ->capture_default_str();
  app.add_option("--cli-read-timeout", globals.timeout_s, "seconds to wait for an answer")
      ->capture_default_str();
  app.add_option("--profile", globals.profile,
                 "aws credentials profile (else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                 "AWS_PROFILE, [default])");
  app.add_option("--region", globals.region,
                 "region the requests are signed for (else AWS_REGION, AWS_DEFAULT_REGION, the "
                 "profile's, home-1)");

  VerbRegistry verbs(app);
  RegisterInstanceVerbs(verbs);
  RegisterImageVerbs(verbs);
  RegisterKeyPairVerbs(verbs);
  RegisterPlacementVerbs(verbs);
  RegisterHostVerbs(verbs);
  RegisterAccessKeyVerbs(verbs);
  RegisterTagVerbs(verbs);
  RegisterStatusVerbs(verbs);

  try {
    app.parse(argc, argv);
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
