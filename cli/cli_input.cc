#include "cli/cli_input.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "cli/shorthand.h"
#include "cli/verb.h"

namespace minicloud::cli {
namespace {

using nlohmann::json;

constexpr const char* kInputFlag = "--cli-input-json";
constexpr const char* kSkeletonFlag = "--generate-cli-skeleton";

// The long flags of a verb a user can give (not help, not these two).
std::vector<const CLI::Option*> UserFlags(const CLI::App& verb) {
  std::vector<const CLI::Option*> out;
  for (const CLI::Option* o : verb.get_options()) {
    if (o->get_lnames().empty()) continue;
    const std::string flag = "--" + o->get_lnames()[0];
    if (flag == "--help" || flag == kInputFlag || flag == kSkeletonFlag) continue;
    out.push_back(o);
  }
  return out;
}

// Skeleton values of the flags whose value is a structure (shorthand or JSON).
json StructuredSkeleton(const std::string& flag) {
  if (flag == "--filters") return json::array({{{"Name", ""}, {"Values", json::array({""})}}});
  if (flag == "--tag-specifications") {
    return json::array(
        {{{"ResourceType", ""}, {"Tags", json::array({{{"Key", ""}, {"Value", ""}}})}}});
  }
  if (flag == "--tags") return json::array({{{"Key", ""}, {"Value", ""}}});
  if (flag == "--parameters") {  // cloudformation create-stack / update-stack
    return json::array(
        {{{"ParameterKey", ""}, {"ParameterValue", ""}, {"UsePreviousValue", true}}});
  }
  if (flag == "--block-device-mappings") {
    return json::array({{{"DeviceName", ""},
                         {"VirtualName", ""},
                         {"Ebs",
                          {{"DeleteOnTermination", true},
                           {"VolumeSize", 0},
                           {"VolumeType", ""},
                           {"SnapshotId", ""}}},
                         {"NoDevice", ""}}});
  }
  if (flag == "--placement") {
    return {{"AvailabilityZone", ""}, {"GroupName", ""}, {"PartitionNumber", 0}, {"Tenancy", ""}};
  }
  if (flag == "--metadata-options") {
    return {{"HttpTokens", ""},
            {"HttpPutResponseHopLimit", 0},
            {"HttpEndpoint", ""},
            {"HttpProtocolIpv6", ""},
            {"InstanceMetadataTags", ""}};
  }
  return nullptr;
}

}  // namespace

std::string FlagOfMember(const std::string& member) {
  std::string out;
  for (size_t i = 0; i < member.size(); ++i) {
    const char c = member[i];
    if (absl::ascii_isupper(c) && i > 0) {
      const bool after_lower = !absl::ascii_isupper(member[i - 1]);
      const bool starts_word =
          i + 1 < member.size() && absl::ascii_islower(member[i + 1]);  // "IPAddress" -> ip-address
      if (after_lower || starts_word) out.push_back('-');
    }
    out.push_back(absl::ascii_tolower(c));
  }
  return out;
}

std::string MemberOfFlag(const std::string& flag) {
  std::string name = flag;
  while (absl::StartsWith(name, "-")) name.erase(0, 1);
  return OperationName(name);
}

CLI::App* SubcommandNamed(CLI::App& app, const std::string& name) {
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    if (sub->get_name() == name) return sub;
  }
  return nullptr;
}

CLI::App* FindVerb(CLI::App& app, const std::vector<std::string>& args) {
  CLI::App* level = &app;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (absl::StartsWith(a, "-")) {
      // A global option's value is not the verb: skip it unless given as --opt=value.
      if (a.find('=') != std::string::npos) continue;
      const CLI::Option* o = app.get_option_no_throw(a);
      if (o != nullptr && o->get_expected_min() > 0) ++i;
      continue;
    }
    // The first word is the verb, known or not; a service word's verb is the next word.
    CLI::App* sub = SubcommandNamed(*level, a);
    if (sub == nullptr || !IsServiceWord(*sub)) return sub;
    level = sub;
  }
  return nullptr;
}

bool IsServiceWord(CLI::App& sub) {
  return !sub.get_subcommands([](CLI::App*) { return true; }).empty();
}

json Skeleton(const CLI::App& verb) {
  json skeleton = json::object();
  for (const CLI::Option* o : UserFlags(verb)) {
    const std::string flag = "--" + o->get_lnames()[0];
    json value = StructuredSkeleton(flag);
    if (value.is_null()) {
      const std::string type = o->get_type_name();
      if (o->get_expected_max() == 0 || o->get_type_size() == 0) {
        value = true;  // a flag (the aws skeleton shows booleans as true)
      } else if (type == "INT" || type == "UINT" || type == "FLOAT" || type == "NUMBER") {
        value = 0;
      } else {
        value = "";
      }
      if (o->get_expected_max() > 1 && !value.is_boolean()) value = json::array({value});
    }
    skeleton[MemberOfFlag(flag)] = value;
  }
  return skeleton;
}

std::vector<std::string> ExpandCliInputJson(const CLI::App& verb, std::vector<std::string> args) {
  std::string text;
  bool found = false;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == kInputFlag && i + 1 < args.size()) {
      text = args[i + 1];
      found = true;
    } else if (absl::StartsWith(args[i], std::string(kInputFlag) + "=")) {
      text = args[i].substr(std::string(kInputFlag).size() + 1);
      found = true;
    }
  }
  if (!found) return args;
  text = ReadBlobArg(text, kInputFlag);
  json input = json::parse(text, nullptr, false);
  if (input.is_discarded() || !input.is_object()) {
    throw UsageError(std::string("Error parsing parameter '") + kInputFlag +
                     "': Invalid JSON: expected an object");
  }
  std::vector<std::string> known;
  for (const CLI::Option* o : UserFlags(verb))
    known.push_back(MemberOfFlag("--" + o->get_lnames()[0]));
  auto given = [&](const std::string& flag) {
    for (const auto& a : args) {
      if (a == flag || absl::StartsWith(a, flag + "=")) return true;
    }
    return false;
  };
  std::vector<std::string> extra;
  for (const auto& [member, value] : input.items()) {
    const std::string flag = "--" + FlagOfMember(member);
    const CLI::Option* o = verb.get_option_no_throw(flag);
    if (o == nullptr || std::find(known.begin(), known.end(), member) == known.end()) {
      throw UsageError("Parameter validation failed:\nUnknown parameter in input: \"" + member +
                       "\", must be one of: " + absl::StrJoin(known, ", "));
    }
    // null and "" (a skeleton's unfilled member) mean "not given": CLI11 reads `--flag=` with
    // an empty value as a flag still waiting for its value and would take the next argument.
    if (given(flag) || value.is_null() || (value.is_string() && value.get<std::string>().empty())) {
      continue;
    }
    if (value.is_boolean()) {
      if (value.get<bool>()) extra.push_back(flag);
      continue;
    }
    auto text_of = [](const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
    const bool multi = o->get_expected_max() > 1;
    if (value.is_array() && multi) {
      for (const auto& el : value) extra.push_back(flag + "=" + text_of(el));
    } else {
      extra.push_back(flag + "=" + text_of(value));
    }
  }
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

}  // namespace minicloud::cli
