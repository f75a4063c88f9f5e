#pragma once

// --generate-cli-skeleton and --cli-input-json, as the aws CLI has them on every operation:
// the skeleton is a JSON object with one member per flag of the verb (PascalCase:
// --instance-ids -> InstanceIds) holding an empty value of its type; --cli-input-json reads
// such an object (text or file://) and gives each member to the verb as its flag, unless the
// flag is also on the command line, which wins.

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace minicloud::cli {

// "InstanceIds" -> "instance-ids", "DryRun" -> "dry-run"
std::string FlagOfMember(const std::string& member);
// "--instance-ids" -> "InstanceIds"
std::string MemberOfFlag(const std::string& flag);

// The subcommand called `name`, or nullptr.
CLI::App* SubcommandNamed(CLI::App& app, const std::string& name);

// The verb named on `args` (argv without the program; global options and their values
// skipped), or nullptr. After a service word ("cloudformation") the verb is the next word.
CLI::App* FindVerb(CLI::App& app, const std::vector<std::string>& args);

// True for a service word (a subcommand that holds verbs, VerbRegistry::Group).
bool IsServiceWord(CLI::App& sub);

// The skeleton of `verb`'s input.
nlohmann::json Skeleton(const CLI::App& verb);

// `args` with the members of --cli-input-json's object turned into flags of `verb` (added at the
// end, each as --flag=value; a list gives one flag per element; objects and lists of objects are
// passed as JSON text, which the shorthand parsers accept). Throws UsageError for JSON that does
// not parse, is not an object, or names a member that is not a flag of the verb.
std::vector<std::string> ExpandCliInputJson(const CLI::App& verb, std::vector<std::string> args);

}  // namespace minicloud::cli
