#include "controller/cloudformation/parameters.h"

#include <regex>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "controller/cloudformation/template_error.h"

namespace minicloud::cloudformation {
namespace {

std::vector<std::string> Items(const ParameterDecl& decl, absl::string_view value) {
  if (!decl.IsList()) return {std::string(value)};
  if (value.empty()) return {};
  return absl::StrSplit(value, ',');
}

absl::Status Constraint(const ParameterDecl& decl, absl::string_view detail) {
  return ValidationError(absl::StrCat(
      "Parameter '", decl.name, "' failed to satisfy constraint: ",
      decl.constraint_description.empty() ? std::string(detail) : decl.constraint_description));
}

}  // namespace

absl::Status CheckParameterValue(const ParameterDecl& decl, absl::string_view value) {
  if (value.size() > kMaxParameterValueBytes) {
    return ValidationError(absl::StrCat("Parameter '", decl.name, "' is longer than ",
                                        kMaxParameterValueBytes, " bytes"));
  }
  if (!decl.allowed_values.empty()) {
    for (const std::string& item : Items(decl, value)) {
      if (std::find(decl.allowed_values.begin(), decl.allowed_values.end(), item) ==
          decl.allowed_values.end()) {
        return ValidationError(
            absl::StrCat("Parameter '", decl.name, "' must be one of AllowedValues"));
      }
    }
  }
  for (const std::string& item : Items(decl, value)) {
    if (decl.IsNumeric()) {
      double number = 0;
      if (!absl::SimpleAtod(item, &number)) {
        return ValidationError(absl::StrCat("Parameter '", decl.name, "' must be a number"));
      }
      if (decl.min_value && number < *decl.min_value) {
        return Constraint(decl, absl::StrCat("Parameter ", decl.name,
                                             " must be a number not less than ", *decl.min_value));
      }
      if (decl.max_value && number > *decl.max_value) {
        return Constraint(
            decl, absl::StrCat("Parameter ", decl.name, " must be a number not greater than ",
                               *decl.max_value));
      }
    }
  }
  const int64_t length = static_cast<int64_t>(value.size());
  if (decl.min_length && length < *decl.min_length) {
    return Constraint(decl, absl::StrCat("Parameter ", decl.name, " must contain at least ",
                                         *decl.min_length, " characters"));
  }
  if (decl.max_length && length > *decl.max_length) {
    return Constraint(decl, absl::StrCat("Parameter ", decl.name, " must contain at most ",
                                         *decl.max_length, " characters"));
  }
  if (decl.allowed_pattern) {
    // The pattern was compiled once when the template was checked; it cannot throw here.
    const std::regex pattern(*decl.allowed_pattern, std::regex::ECMAScript);
    for (const std::string& item : Items(decl, value)) {
      if (!std::regex_match(item, pattern)) {
        return Constraint(decl, absl::StrCat("Malformed input-Parameter ", decl.name,
                                             " must match pattern ", *decl.allowed_pattern));
      }
    }
  }
  return absl::OkStatus();
}

Json ParameterValueAsJson(const ParameterDecl& decl, absl::string_view value) {
  if (!decl.IsList()) return Json(std::string(value));
  Json list = Json::array();
  for (const std::string& item : Items(decl, value)) list.push_back(item);
  return list;
}

absl::StatusOr<ParameterValues> ResolveParameters(const Template& t,
                                                  const std::vector<ParameterInput>& given,
                                                  const ParameterValues* previous) {
  std::set<std::string> unknown;
  std::map<std::string, const ParameterInput*> by_key;
  for (const ParameterInput& input : given) {
    if (t.FindParameter(input.key) == nullptr) {
      unknown.insert(input.key);
      continue;
    }
    if (by_key.count(input.key) != 0) {
      return ValidationError(absl::StrCat("Parameter '", input.key, "' is given more than once"));
    }
    by_key[input.key] = &input;
  }
  if (!unknown.empty()) {
    return ValidationError(absl::StrCat("Parameters: [", absl::StrJoin(unknown, ", "),
                                        "] do not exist in the template"));
  }
  ParameterValues values;
  std::vector<std::string> missing;
  for (const ParameterDecl& decl : t.parameters) {
    const auto it = by_key.find(decl.name);
    if (it != by_key.end() && it->second->use_previous_value) {
      const auto prev =
          previous == nullptr ? ParameterValues::const_iterator{} : previous->find(decl.name);
      if (previous == nullptr || prev == previous->end()) {
        return ValidationError(
            absl::StrCat("Parameter '", decl.name, "' has no previous value to use"));
      }
      values[decl.name] = prev->second;
      continue;
    }
    std::string value;
    if (it != by_key.end()) {
      value = it->second->value;
    } else if (decl.default_value) {
      value = *decl.default_value;
    } else {
      missing.push_back(decl.name);
      continue;
    }
    if (auto s = CheckParameterValue(decl, value); !s.ok()) return s;
    values[decl.name] = ParameterValueAsJson(decl, value);
  }
  if (!missing.empty()) {
    return ValidationError(
        absl::StrCat("Parameters: [", absl::StrJoin(missing, ", "), "] must have values"));
  }
  return values;
}

}  // namespace minicloud::cloudformation
