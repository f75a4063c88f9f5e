#include "cli/credentials.h"

#include <cstdlib>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "cli/verb.h"

namespace minicloud::cli {
namespace {

std::string Env(const CredentialSources& src, const char* name) {
  auto v = src.getenv(name);
  return v.has_value() ? *v : std::string();
}

std::string CredentialsFile(const CredentialSources& src) {
  std::string f = Env(src, "AWS_SHARED_CREDENTIALS_FILE");
  return f.empty() ? src.home + "/.aws/credentials" : f;
}

std::string ConfigFile(const CredentialSources& src) {
  std::string f = Env(src, "AWS_CONFIG_FILE");
  return f.empty() ? src.home + "/.aws/config" : f;
}

// The config file names profiles "[profile P]", except "[default]".
std::string ConfigSection(const std::string& profile) {
  return profile == "default" ? profile : "profile " + profile;
}

std::optional<AwsCredentials> FromSection(
    const std::map<std::string, std::map<std::string, std::string>>& ini,
    const std::string& section, const std::string& source) {
  auto it = ini.find(section);
  if (it == ini.end()) return std::nullopt;
  auto id = it->second.find("aws_access_key_id");
  auto secret = it->second.find("aws_secret_access_key");
  if (id == it->second.end() || secret == it->second.end() || id->second.empty() ||
      secret->second.empty()) {
    return std::nullopt;
  }
  return AwsCredentials{id->second, secret->second, source};
}

}  // namespace

std::map<std::string, std::map<std::string, std::string>> ReadIniFile(const std::string& path) {
  std::map<std::string, std::map<std::string, std::string>> out;
  std::ifstream in(path);
  std::string line, section;
  bool in_section = false;
  while (std::getline(in, line)) {
    absl::string_view l = absl::StripAsciiWhitespace(line);
    if (l.empty() || l[0] == '#' || l[0] == ';') continue;
    if (l.front() == '[' && l.back() == ']') {
      section = std::string(absl::StripAsciiWhitespace(l.substr(1, l.size() - 2)));
      out[section];
      in_section = true;
      continue;
    }
    size_t eq = l.find('=');
    if (!in_section || eq == absl::string_view::npos) continue;
    out[section][std::string(absl::StripAsciiWhitespace(l.substr(0, eq)))] =
        std::string(absl::StripAsciiWhitespace(l.substr(eq + 1)));
  }
  return out;
}

CredentialSources RealCredentialSources() {
  CredentialSources src;
  src.getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
  const char* home = std::getenv("HOME");
  src.home = home != nullptr ? home : "";
  return src;
}

AwsCredentials ResolveCredentials(const std::string& profile_flag, const CredentialSources& src) {
  if (profile_flag.empty()) {
    const std::string id = Env(src, "AWS_ACCESS_KEY_ID");
    const std::string secret = Env(src, "AWS_SECRET_ACCESS_KEY");
    if (!id.empty() && !secret.empty()) return {id, secret, "environment"};
  }
  std::string profile = profile_flag;
  if (profile.empty()) profile = Env(src, "AWS_PROFILE");
  const bool named = !profile.empty();
  if (profile.empty()) profile = "default";

  const std::string credentials_file = CredentialsFile(src);
  if (auto c = FromSection(ReadIniFile(credentials_file), profile, credentials_file)) return *c;
  const std::string config_file = ConfigFile(src);
  if (auto c = FromSection(ReadIniFile(config_file), ConfigSection(profile), config_file)) {
    return *c;
  }
  if (!named) {
    if (auto c = FromSection(ReadIniFile(src.controller_credentials), "default",
                             src.controller_credentials)) {
      return *c;
    }
  }
  if (named) {
    const auto creds = ReadIniFile(credentials_file);
    const auto config = ReadIniFile(config_file);
    if (!creds.contains(profile) && !config.contains(ConfigSection(profile))) {
      throw ConfigError(absl::StrCat("The config profile (", profile, ") could not be found"));
    }
  }
  throw ConfigError(absl::StrCat(
      "Unable to locate credentials. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or put a "
      "key in ",
      credentials_file,
      " (get one with `minicloud create-access-key`; the controller's first key is in ",
      src.controller_credentials, ")."));
}

std::string ResolveRegion(const std::string& region_flag, const std::string& profile_flag,
                          const CredentialSources& src) {
  if (!region_flag.empty()) return region_flag;
  for (const char* name : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
    std::string v = Env(src, name);
    if (!v.empty()) return v;
  }
  std::string profile = profile_flag.empty() ? Env(src, "AWS_PROFILE") : profile_flag;
  if (profile.empty()) profile = "default";
  const auto config = ReadIniFile(ConfigFile(src));
  auto it = config.find(ConfigSection(profile));
  if (it != config.end()) {
    auto r = it->second.find("region");
    if (r != it->second.end() && !r->second.empty()) return r->second;
  }
  return kDefaultRegion;
}

}  // namespace minicloud::cli
