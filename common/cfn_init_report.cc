#include "common/cfn_init_report.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace minicloud {
namespace {

constexpr char kMark[] = "cfn-init: ";
constexpr size_t kMarkSize = sizeof(kMark) - 1;

// The line without carriage returns and ANSI colour sequences (ESC '[' params letter).
std::string Clean(absl::string_view line) {
  std::string s;
  s.reserve(line.size());
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\r') continue;
    if (line[i] == '\x1b' && i + 1 < line.size() && line[i + 1] == '[') {
      size_t j = i + 2;
      while (j < line.size() &&
             (absl::ascii_isdigit(line[j]) || line[j] == ';' || line[j] == '?')) {
        ++j;
      }
      i = j;  // the final letter (or the end) is skipped too
      continue;
    }
    s.push_back(line[i]);
  }
  return s;
}

// The report's text after "cfn-init: ", when the line is one of cfn-init's report lines: the
// mark starts the line or follows the console's prefix (which ends in ": " or "] ").
std::optional<std::string> ReportText(const std::string& line) {
  const size_t at = line.find(kMark);
  if (at == std::string::npos) return std::nullopt;
  if (at != 0) {
    if (at < 2) return std::nullopt;
    const absl::string_view before(line.data() + at - 2, 2);
    if (before != ": " && before != "] ") return std::nullopt;
  }
  return line.substr(at + kMarkSize);
}

// "<set>/<config>/<section>/<key> failed: <message>"
std::optional<CfnInitStepFailure> ParseStep(absl::string_view text) {
  const size_t sep = text.find(" failed: ");
  if (sep == absl::string_view::npos) return std::nullopt;
  std::vector<absl::string_view> parts =
      absl::StrSplit(text.substr(0, sep), absl::MaxSplits('/', 3));
  if (parts.size() != 4) return std::nullopt;
  CfnInitStepFailure f;
  f.config_set = std::string(parts[0]);
  f.config = std::string(parts[1]);
  f.section = std::string(parts[2]);
  f.key = std::string(parts[3]);
  f.message = std::string(text.substr(sep + 9));
  return f;
}

}  // namespace

std::vector<CfnInitRun> ParseCfnInitConsole(const std::string& console) {
  std::vector<CfnInitRun> runs;
  bool open = false;  // the last run has not printed its result yet
  auto current = [&]() -> CfnInitRun& {
    if (!open) {
      runs.emplace_back();
      open = true;
    }
    return runs.back();
  };
  for (absl::string_view raw : absl::StrSplit(console, '\n')) {
    const std::optional<std::string> text = ReportText(Clean(raw));
    if (!text) continue;
    absl::string_view t = *text;
    if (absl::ConsumePrefix(&t, "step ")) {
      if (auto f = ParseStep(t)) current().failures.push_back(std::move(*f));
    } else if (absl::ConsumePrefix(&t, "output: ") || t == "output:") {
      CfnInitRun& run = current();
      if (!run.failures.empty()) {
        run.failures.back().output.push_back(t == "output:" ? "" : std::string(t));
      }
    } else if (absl::ConsumePrefix(&t, "error: ")) {
      current().errors.push_back(std::string(t));
    } else if (absl::ConsumePrefix(&t, "result: ")) {
      CfnInitRun& run = current();
      run.finished = true;
      if (t == "success") {
        run.succeeded = true;
      } else if (absl::ConsumePrefix(&t, "failed (exit ") && absl::ConsumeSuffix(&t, ")")) {
        int code = 0;
        if (absl::SimpleAtoi(t, &code)) run.exit_code = code;
      }
      open = false;
    }
  }
  return runs;
}

std::string FormatCfnInitRun(const std::optional<CfnInitRun>& run, const std::string& indent) {
  if (!run) return absl::StrCat(indent, "cfn-init: no report on the console\n");
  std::string out;
  for (const std::string& e : run->errors)
    absl::StrAppend(&out, indent, "cfn-init error: ", e, "\n");
  for (const CfnInitStepFailure& f : run->failures) {
    absl::StrAppend(&out, indent, "cfn-init step ", f.config_set, "/", f.config, "/", f.section,
                    "/", f.key, " failed: ", f.message, "\n");
    for (const std::string& line : f.output) absl::StrAppend(&out, indent, "  | ", line, "\n");
  }
  if (!run->finished) {
    absl::StrAppend(&out, indent, "cfn-init: still running (no result line yet)\n");
  } else if (run->succeeded) {
    absl::StrAppend(&out, indent, "cfn-init: succeeded\n");
  } else {
    absl::StrAppend(&out, indent, "cfn-init: failed",
                    run->exit_code ? absl::StrCat(" (exit ", *run->exit_code, ")") : "", "\n");
  }
  return out;
}

}  // namespace minicloud
