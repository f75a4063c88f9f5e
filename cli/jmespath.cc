#include "cli/jmespath.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/process/run.h"

namespace minicloud::cli {
namespace {

using nlohmann::json;

// A private directory (0700) removed with everything in it when this goes out of scope.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(base != nullptr && *base ? base : "/tmp") + "/minicloud-q.XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) != nullptr) path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  bool ok() const { return !path_.empty(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace

std::string QuoteLegacyLiterals(const std::string& expr) {
  std::string out;
  size_t i = 0;
  while (i < expr.size()) {
    const char c = expr[i];
    if (c == '\'' || c == '"') {  // raw string or quoted identifier: copied as is
      size_t j = i + 1;
      while (j < expr.size() && expr[j] != c) j += expr[j] == '\\' ? 2 : 1;
      j = std::min(j + 1, expr.size());
      out.append(expr, i, j - i);
      i = j;
      continue;
    }
    if (c != '`') {
      out.push_back(c);
      ++i;
      continue;
    }
    size_t j = i + 1;
    std::string raw;  // the literal's text, \` unescaped
    while (j < expr.size() && expr[j] != '`') {
      if (expr[j] == '\\' && j + 1 < expr.size() && expr[j + 1] == '`') {
        raw.push_back('`');
        j += 2;
      } else {
        raw.push_back(expr[j++]);
      }
    }
    if (j >= expr.size()) {  // unterminated: jp reports it
      out.append(expr, i, std::string::npos);
      break;
    }
    const std::string as_string = absl::StrCat("\"", absl::StripLeadingAsciiWhitespace(raw), "\"");
    if (json::accept(raw) || !json::accept(as_string)) {
      out.append(expr, i, j + 1 - i);  // JSON already, or nothing the aws CLI would read either
    } else {
      // As the aws CLI's library does: the text, left spaces stripped, read as a JSON string.
      // A backtick inside must stay escaped for the literal.
      out.push_back('`');
      for (char q : as_string) {
        if (q == '`') out.push_back('\\');
        out.push_back(q);
      }
      out.push_back('`');
    }
    i = j + 1;
  }
  return out;
}

absl::StatusOr<json> SearchJmesPath(const std::string& expression, const json& doc) {
  TempDir dir;
  if (!dir.ok()) return absl::UnavailableError("--query: cannot create a temporary directory");
  const auto input = dir.path() / "input.json", expr = dir.path() / "expression";
  {
    std::ofstream in(input, std::ios::binary), ex(expr, std::ios::binary);
    in << doc.dump(-1, ' ', false, json::error_handler_t::replace);
    ex << QuoteLegacyLiterals(expression);
    if (!in || !ex) return absl::UnavailableError("--query: cannot write its temporary files");
  }
  const char* jp = std::getenv("MINICLOUD_JP");  // tests may point at another build of jp
  const std::string program = jp != nullptr && *jp ? jp : "jp";
  process::RunOptions options;
  options.max_output_bytes = std::numeric_limits<size_t>::max();  // the answer, all of it
  absl::StatusOr<process::RunResult> ran = process::RunCapturingOutput(
      {program, "--compact", "--filename", input.string(), "--expr-file", expr.string()}, options);
  if (!ran.ok()) {
    return absl::UnavailableError(
        "--query needs the jp program (Debian package jp; deploy/install-deps.sh installs it)");
  }
  if (ran->signal != 0 || ran->exit_code < 0) {
    return absl::UnavailableError("--query: jp did not finish");
  }
  if (ran->exit_code != 0) {
    std::string message(absl::StripTrailingAsciiWhitespace(ran->err));
    if (message.empty()) message = absl::StrCat("jp exited with ", ran->exit_code);
    return absl::InvalidArgumentError(message);
  }
  json result = json::parse(ran->out, nullptr, false);
  if (result.is_discarded()) return absl::UnavailableError("--query: jp answered no JSON");
  return result;
}

}  // namespace minicloud::cli
