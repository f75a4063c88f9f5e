#pragma once

// `--query`: JMESPath (https://jmespath.org/specification.html) evaluated by the jp program
// (Debian package `jp`, the Go implementation that the JMESPath project maintains;
// deploy/install-deps.sh installs it). The document goes to jp in a private temporary
// directory, the expression in a file (never on a command line or through a shell), and the
// answer comes back as JSON.
//
// One rule of the aws CLI is kept on top: a backtick literal that is not JSON (`running`) is the
// string it spells, as the aws CLI's JMESPath library still accepts; jp would refuse it.

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"

namespace minicloud::cli {

// The result of `expression` over `doc`. InvalidArgument: the expression does not parse or
// fails at run time (a function given the wrong type, ...), with jp's message; Unavailable: jp
// is not installed or did not run.
absl::StatusOr<nlohmann::json> SearchJmesPath(const std::string& expression,
                                              const nlohmann::json& doc);

// The aws CLI's reading of backtick literals: `x` whose text is not JSON becomes `"x"`.
// Quoted identifiers and raw strings are left alone.
std::string QuoteLegacyLiterals(const std::string& expression);

}  // namespace minicloud::cli
