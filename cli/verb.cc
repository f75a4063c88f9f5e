#include "cli/verb.h"

#include "absl/strings/ascii.h"
#include "cli/output.h"

namespace minicloud::cli {

CLI::App* VerbRegistry::Add(const std::string& name, const std::string& description,
                            VerbHandler handler) {
  CLI::App* cmd = app_.add_subcommand(name, description);
  // Every verb, as every aws operation, takes its input as JSON too (cli/cli_input.h; both are
  // handled before parsing, these entries document them and accept the expanded line).
  cmd->add_option("--cli-input-json")
      ->description("the verb's flags as a JSON object (text or file://)");
  cmd->add_option("--generate-cli-skeleton")
      ->description("print that JSON object's skeleton and exit")
      ->expected(0, 1);
  verbs_->emplace_back(cmd, std::move(handler));
  return cmd;
}

VerbRegistry VerbRegistry::Group(const std::string& name, const std::string& description) {
  CLI::App* group = app_.add_subcommand(name, description);
  group->require_subcommand(1);
  group->fallthrough();  // global options after the verb reach the app through the group
  return VerbRegistry(*group, verbs_);
}

int VerbRegistry::Run(VerbContext& ctx) const {
  for (const auto& [cmd, handler] : *verbs_) {
    if (cmd->parsed()) {
      ctx.operation = OperationName(cmd->get_name());
      return handler(ctx);
    }
  }
  throw UsageError("no verb given");
}

std::vector<std::string> VerbRegistry::Names() const {
  std::vector<std::string> names;
  for (const CLI::App* sub : app_.get_subcommands([](CLI::App*) { return true; })) {
    names.push_back(sub->get_name());
  }
  return names;
}

std::string OperationName(const std::string& verb) {
  std::string name;
  bool upper = true;
  for (char c : verb) {
    if (c == '-') {
      upper = true;
      continue;
    }
    name.push_back(upper ? absl::ascii_toupper(c) : c);
    upper = false;
  }
  return name;
}

void Print(VerbContext& ctx, const nlohmann::json& doc) {
  OutputSpec spec;
  spec.format = ctx.globals.output;
  spec.query = ctx.globals.query;
  spec.title = ctx.operation;
  spec.terminal_width = ctx.globals.terminal_width;
  WriteOutput(ctx.out, doc, spec);
}

void Print(VerbContext& ctx, const nlohmann::json& doc, const std::string& /*array_key*/,
           const std::vector<std::string>& /*columns*/) {
  Print(ctx, doc);
}

}  // namespace minicloud::cli
