#pragma once

// `--output json|text|table` and `--query`, as the aws CLI (v1) prints a response: the query
// (JMESPath, cli/jmespath.h) first, then one of three layouts of the same JSON. PURE apart from
// the query, which runs the jp program.
//
//   json   indented by 4; an empty object prints nothing (aws prints nothing for {}).
//   text   tab-separated: the scalars of an object on one line (keys sorted, a list of objects
//          shares the union of their scalar keys), each nested list or object after it under
//          its key in capitals; a list of scalars on one line.
//   table  the aws CLI's boxed table: a section per object titled by the operation (then by the
//          key), scalars as a header row and a value row (one scalar: a key|value row), lists of
//          objects as rows; too wide for the terminal -> one-row sections turn vertical.

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

namespace minicloud::cli {

struct OutputSpec {
  std::string format = "json";  // json | text | table
  std::string query;            // JMESPath; empty = the whole document
  std::string title;            // the table's title: the operation, e.g. "DescribeHosts"
  int terminal_width = 80;      // the aws CLI's default when stdout is not a terminal
};

// Applies spec.query (throws UsageError for a bad expression) and writes the result.
void WriteOutput(std::ostream& out, const nlohmann::json& doc, const OutputSpec& spec);

// The layouts alone (no query).
std::string FormatJson(const nlohmann::json& doc);
std::string FormatText(const nlohmann::json& doc);
std::string FormatTable(const std::string& title, const nlohmann::json& doc, int terminal_width);

// How a scalar is written in text and table cells: as Python's str() of the parsed JSON value
// (True, False, None; strings unquoted).
std::string ScalarText(const nlohmann::json& v);

}  // namespace minicloud::cli
