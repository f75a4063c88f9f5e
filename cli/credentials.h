#pragma once

// Where the CLI finds its access key and region, in the aws CLI's order (botocore's credential
// chain, the parts that apply here):
//   1. --profile P given: only profile P (credentials file, then config file).
//   2. AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
//   3. profile AWS_PROFILE (or "default") in AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials),
//      then in AWS_CONFIG_FILE (~/.aws/config, section "[profile P]" or "[default]").
//   4. For the default profile only: the controller's first-start key,
//      /var/lib/minicloud/controller/admin-credentials (readable by root: local admin use).
// Region: --region, AWS_REGION, AWS_DEFAULT_REGION, the profile's `region` in the config file,
// then "home-1" (the controller's default --region).
// Nothing found: ConfigError "Unable to locate credentials..." (exit 253, as the aws CLI).

#include <functional>
#include <map>
#include <optional>
#include <string>

namespace minicloud::cli {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string source;  // where they came from, for messages: "environment", a file path
};

// The outside world the lookup reads; tests pass their own.
struct CredentialSources {
  std::function<std::optional<std::string>(const std::string&)> getenv;
  std::string home;
  std::string controller_credentials = "/var/lib/minicloud/controller/admin-credentials";
};
CredentialSources RealCredentialSources();

inline constexpr char kDefaultRegion[] = "home-1";

// Throws ConfigError (cli/verb.h) when no credentials are found or a named profile is missing.
AwsCredentials ResolveCredentials(const std::string& profile_flag, const CredentialSources& src);
std::string ResolveRegion(const std::string& region_flag, const std::string& profile_flag,
                          const CredentialSources& src);

// An INI file as the aws CLI writes them: section -> key -> value ('#' and ';' comments, keys
// and values trimmed). An unreadable file is empty.
std::map<std::string, std::map<std::string, std::string>> ReadIniFile(const std::string& path);

}  // namespace minicloud::cli
