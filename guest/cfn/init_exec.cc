#include "guest/cfn/init_exec.h"

#include <sstream>

#include "guest/cfn/mustache.h"

namespace minicloud::guest {

using nlohmann::json;

namespace {

constexpr unsigned kTypeMask = 0170000;
constexpr unsigned kSymlinkType = 0120000;

std::string OneLine(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

std::vector<std::string> LastLines(const std::string& output, size_t count) {
  std::vector<std::string> lines;
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  if (lines.size() > count) lines.erase(lines.begin(), lines.end() - count);
  return lines;
}

std::optional<std::string> OptionalString(const json& spec, const char* key) {
  auto it = spec.find(key);
  if (it == spec.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<long long>());
  return it->dump();
}

std::vector<std::string> Strings(const json& list) {
  std::vector<std::string> out;
  if (!list.is_array()) return out;
  for (const json& item : list) {
    if (item.is_string()) out.push_back(item.get<std::string>());
  }
  return out;
}

}  // namespace

std::string ProcessResult::Describe() const {
  if (signal != 0) return "killed by signal " + std::to_string(signal);
  return "exit status " + std::to_string(exit_code);
}

std::vector<std::string> FailureReport(const std::string& step_name, const std::string& message,
                                       const std::string& output) {
  std::vector<std::string> lines;
  lines.push_back("cfn-init: step " + step_name + " failed: " + OneLine(message));
  for (const std::string& line : LastLines(output, kReportOutputLines)) {
    lines.push_back("cfn-init: output: " + line);
  }
  return lines;
}

StatusOr<std::string> DecodeBase64(const std::string& text) {
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  bool padding = false;
  for (unsigned char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '+') {
      v = 62;
    } else if (c == '/') {
      v = 63;
    } else if (c == '=') {
      padding = true;
      continue;
    } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      continue;
    } else {
      return Error("content is not base64 (character " + std::to_string(c) + ")");
    }
    if (padding) return Error("content is not base64 (data after '=')");
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  return out;
}

StatusOr<unsigned> ParseMode(const std::string& mode) {
  if (mode.empty() || mode.size() > 6 || mode.find_first_not_of("01234567") != std::string::npos) {
    return Error("mode " + mode + " is not an octal string such as 000644");
  }
  return static_cast<unsigned>(std::stoul(mode, nullptr, 8));
}

InitExecutor::InitExecutor(System& system, LogFn log, LogFn command_log)
    : system_(system), log_(std::move(log)), command_log_(std::move(command_log)) {}

InitResult InitExecutor::Run(const std::vector<Step>& steps) {
  InitResult result;
  auto fail = [&](const std::string& name, const Failure& failure) {
    log_("step " + name + " failed: " + failure.message);
    result.report = FailureReport(name, failure.message, failure.output);
    result.exit_code = kInitFailureExit;
    result.report.push_back("cfn-init: result: failed (exit " + std::to_string(kInitFailureExit) +
                            ")");
    return result;
  };
  for (const Step& step : steps) {
    if (!step.refusal.empty()) return fail(step.Name(), Failure{step.refusal, ""});
  }
  for (const Step& step : steps) {
    log_("step " + step.Name());
    if (std::optional<Failure> failure = RunStep(step)) return fail(step.Name(), *failure);
  }
  log_("all " + std::to_string(steps.size()) + " steps done");
  result.report.push_back("cfn-init: result: success");
  return result;
}

std::optional<InitExecutor::Failure> InitExecutor::RunStep(const Step& step) {
  switch (step.section) {
    case Section::kPackages:
      return Packages(step);
    case Section::kGroups:
      return Group(step);
    case Section::kUsers:
      return User(step);
    case Section::kSources:
      return Source(step);
    case Section::kFiles:
      return File(step);
    case Section::kCommands:
      return Command(step);
    case Section::kServices:
      return Service(step);
  }
  return Failure{"unknown section", ""};
}

std::optional<InitExecutor::Failure> InitExecutor::Packages(const Step& step) {
  std::vector<std::string> wanted;
  for (const auto& [name, versions] : step.spec.items()) {
    std::string version;
    if (versions.is_string()) version = versions.get<std::string>();
    if (versions.is_array() && !versions.empty()) version = versions[0].get<std::string>();
    wanted.push_back(version.empty() ? name : name + "=" + version);
  }
  if (wanted.empty()) return std::nullopt;
  std::string output;
  StatusOr<std::vector<std::string>> installed = system_.AptInstall(wanted, output);
  if (!output.empty()) command_log_("apt-get install:\n" + output);
  if (!installed.ok()) return Failure{installed.status().message(), output};
  for (const std::string& name : *installed) {
    changed_packages_[step.key].insert(name);
    log_("package " + name + " installed");
  }
  return std::nullopt;
}

std::optional<InitExecutor::Failure> InitExecutor::Group(const Step& step) {
  if (system_.GroupExists(step.key)) {
    log_("group " + step.key + " exists");
    return std::nullopt;
  }
  Status st = system_.AddGroup(step.key, OptionalString(step.spec, "gid"));
  if (!st.ok()) return Failure{st.message(), ""};
  return std::nullopt;
}

std::optional<InitExecutor::Failure> InitExecutor::User(const Step& step) {
  std::vector<std::string> groups = Strings(step.spec.value("groups", json::array()));
  Status st;
  if (system_.UserExists(step.key)) {
    st = system_.AddUserToGroups(step.key, groups);
  } else {
    st = system_.AddUser(step.key, groups, OptionalString(step.spec, "uid"),
                         OptionalString(step.spec, "homeDir"));
  }
  if (!st.ok()) return Failure{st.message(), ""};
  return std::nullopt;
}

std::optional<InitExecutor::Failure> InitExecutor::Source(const Step& step) {
  const std::string url = step.spec.get<std::string>();
  StatusOr<std::string> archive = system_.Fetch(url);
  if (!archive.ok()) return Failure{archive.status().message(), ""};
  Status st = system_.Extract(*archive, step.key);
  if (!st.ok()) return Failure{st.WithContext("unpack " + url).message(), ""};
  changed_sources_.insert(step.key);
  return std::nullopt;
}

std::optional<InitExecutor::Failure> InitExecutor::File(const Step& step) {
  const json& spec = step.spec;
  StatusOr<unsigned> mode = ParseMode(spec.value("mode", std::string("000644")));
  if (!mode.ok()) return Failure{mode.status().message(), ""};
  std::string content;
  if (spec.contains("source")) {
    StatusOr<std::string> fetched = system_.Fetch(spec["source"].get<std::string>());
    if (!fetched.ok()) return Failure{fetched.status().message(), ""};
    content = *fetched;
  } else if (spec.contains("content")) {
    const json& c = spec["content"];
    content = c.is_string() ? c.get<std::string>() : c.dump(2);
    if (spec.value("encoding", std::string("plain")) == "base64") {
      StatusOr<std::string> decoded = DecodeBase64(content);
      if (!decoded.ok()) return Failure{decoded.status().message(), ""};
      content = *decoded;
    }
  }
  if (spec.contains("context")) {
    StatusOr<std::string> rendered = RenderMustache(content, spec["context"]);
    if (!rendered.ok()) return Failure{rendered.status().message(), ""};
    content = *rendered;
  }
  if ((*mode & kTypeMask) == kSymlinkType) {
    StatusOr<bool> changed = system_.Symlink(content, step.key);
    if (!changed.ok()) return Failure{changed.status().message(), ""};
    if (*changed) changed_files_.insert(step.key);
    return std::nullopt;
  }
  const unsigned perms = *mode & 07777;
  StatusOr<std::optional<std::string>> before = system_.ReadFile(step.key);
  if (!before.ok()) return Failure{before.status().message(), ""};
  bool changed = !before->has_value() || **before != content ||
                 system_.FileMode(step.key) != std::optional<unsigned>(perms);
  if (changed) {
    Status st = system_.WriteFileAtomic(step.key, content, perms);
    if (!st.ok()) return Failure{st.message(), ""};
    changed_files_.insert(step.key);
    log_("file " + step.key + " written");
  } else {
    log_("file " + step.key + " unchanged");
  }
  Status st = system_.Chown(step.key, spec.value("owner", std::string("root")),
                            spec.value("group", std::string("root")));
  if (!st.ok()) return Failure{st.message(), ""};
  return std::nullopt;
}

std::optional<InitExecutor::Failure> InitExecutor::Command(const Step& step) {
  const json& spec = step.spec;
  ProcessSpec base;
  if (spec.contains("env")) {
    for (const auto& [k, v] : spec["env"].items()) base.env[k] = v.get<std::string>();
    base.replace_env = true;
  }
  base.cwd = spec.value("cwd", std::string());
  if (spec.contains("test")) {
    ProcessSpec test = base;
    test.argv = {"/bin/sh", "-c", spec["test"].get<std::string>()};
    command_log_("command " + step.key + ": test: " + spec["test"].get<std::string>());
    StatusOr<ProcessResult> r = system_.Run(test);
    if (!r.ok()) return Failure{r.status().WithContext("test").message(), ""};
    if (!r->output.empty()) command_log_(r->output);
    if (!r->ok()) {
      log_("command " + step.key + " skipped: its test gave " + r->Describe());
      return std::nullopt;
    }
  }
  ProcessSpec run = base;
  const json& c = spec["command"];
  if (c.is_string()) {
    run.argv = {"/bin/sh", "-c", c.get<std::string>()};
  } else {
    run.argv = Strings(c);
  }
  command_log_("command " + step.key + ": " + (c.is_string() ? c.get<std::string>() : c.dump()));
  StatusOr<ProcessResult> r = system_.Run(run);
  if (!r.ok()) {
    if (IsTrue(spec.value("ignoreErrors", json(false)))) {
      log_("command " + step.key + " failed to start (ignored): " + r.status().message());
      return std::nullopt;
    }
    return Failure{r.status().message(), ""};
  }
  command_log_(r->output.empty() ? "(no output), " + r->Describe()
                                 : r->output + "\n" + r->Describe());
  if (!r->ok()) {
    if (IsTrue(spec.value("ignoreErrors", json(false)))) {
      log_("command " + step.key + " gave " + r->Describe() + " (ignoreErrors)");
      return std::nullopt;
    }
    return Failure{r->Describe(), r->output};
  }
  changed_commands_.insert(step.key);
  log_("command " + step.key + " succeeded");
  return std::nullopt;
}

bool InitExecutor::DependenciesChanged(const json& spec) const {
  for (const std::string& f : Strings(spec.value("files", json::array()))) {
    if (changed_files_.count(f)) return true;
  }
  for (const std::string& s : Strings(spec.value("sources", json::array()))) {
    if (changed_sources_.count(s)) return true;
  }
  for (const std::string& c : Strings(spec.value("commands", json::array()))) {
    if (changed_commands_.count(c)) return true;
  }
  if (spec.contains("packages") && spec["packages"].is_object()) {
    for (const auto& [manager, names] : spec["packages"].items()) {
      auto it = changed_packages_.find(manager);
      if (it == changed_packages_.end()) continue;
      for (const std::string& n : Strings(names)) {
        if (it->second.count(n)) return true;
      }
    }
  }
  return false;
}

std::optional<InitExecutor::Failure> InitExecutor::Service(const Step& step) {
  const json& spec = step.spec;
  const std::string& unit = step.key;
  auto act = [&](const std::string& verb) -> std::optional<Failure> {
    log_("service " + unit + ": systemctl " + verb);
    Status st = system_.Systemctl(verb, unit);
    if (!st.ok()) return Failure{st.message(), ""};
    return std::nullopt;
  };
  if (spec.contains("enabled")) {
    bool want = IsTrue(spec["enabled"]);
    if (want != system_.ServiceEnabled(unit)) {
      if (auto f = act(want ? "enable" : "disable")) return f;
    }
  }
  const bool changed = DependenciesChanged(spec);
  const bool active = system_.ServiceActive(unit);
  if (spec.contains("ensureRunning")) {
    if (IsTrue(spec["ensureRunning"])) {
      if (!active) return act("start");
      if (changed) return act("restart");
      return std::nullopt;
    }
    if (active) return act("stop");
    return std::nullopt;
  }
  if (active && changed) return act("restart");
  return std::nullopt;
}

}  // namespace minicloud::guest
