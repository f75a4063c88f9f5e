#include "cli/verb.h"

#include "cli/render.h"

namespace minicloud::cli {

CLI::App* VerbRegistry::Add(const std::string& name, const std::string& description,
                            VerbHandler handler) {
  CLI::App* cmd = app_.add_subcommand(name, description);
  verbs_.emplace_back(cmd, std::move(handler));
  return cmd;
}

int VerbRegistry::Run(VerbContext& ctx) const {
  for (const auto& [cmd, handler] : verbs_) {
    if (cmd->parsed()) return handler(ctx);
  }
  throw UsageError("no verb given");
}

void Print(VerbContext& ctx, const nlohmann::json& doc, const std::string& array_key,
           const std::vector<std::string>& columns) {
  if (ctx.globals.output == "table" && !array_key.empty()) {
    ctx.out << RenderTable(doc, array_key, columns);
  } else {
    ctx.out << doc.dump(4) << "\n";
  }
}

}  // namespace minicloud::cli
