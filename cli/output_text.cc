// `--output text` in the aws CLI's layout (see cli/output.h). Written from the layout's rules;
// checked byte for byte against the aws CLI's own formatter in tests/unit/cli/output_test.cc.
#include <set>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "cli/output.h"

namespace minicloud::cli {
namespace {

using nlohmann::json;

bool IsScalar(const json& v) { return !v.is_object() && !v.is_array(); }

void Emit(const json& item, std::ostream& out, const std::string* identifier,
          const std::vector<std::string>* scalar_keys);

void EmitScalarList(const std::vector<const json*>& items, const std::string* identifier,
                    std::ostream& out) {
  if (identifier != nullptr) {
    for (const json* v : items)
      out << absl::AsciiStrToUpper(*identifier) << "\t" << ScalarText(*v) << "\n";
    return;
  }
  std::vector<std::string> cells;
  for (const json* v : items) cells.push_back(ScalarText(*v));
  out << absl::StrJoin(cells, "\t") << "\n";
}

void EmitList(const json& list, const std::string* identifier, std::ostream& out) {
  if (list.empty()) return;
  bool any_object = false, any_list = false;
  for (const auto& el : list) {
    any_object = any_object || el.is_object();
    any_list = any_list || el.is_array();
  }
  if (any_object) {
    // Every object of the list prints the union of the list's scalar keys, sorted.
    std::set<std::string> keys;
    for (const auto& el : list) {
      if (!el.is_object()) continue;
      for (const auto& [k, v] : el.items()) {
        if (IsScalar(v)) keys.insert(k);
      }
    }
    const std::vector<std::string> all(keys.begin(), keys.end());
    for (const auto& el : list) Emit(el, out, identifier, &all);
    return;
  }
  std::vector<const json*> scalars, others;
  for (const auto& el : list) (IsScalar(el) ? scalars : others).push_back(&el);
  if (!any_list || !scalars.empty()) EmitScalarList(scalars, identifier, out);
  for (const json* el : others) Emit(*el, out, identifier, nullptr);
}

void EmitObject(const json& obj, const std::string* identifier,
                const std::vector<std::string>* scalar_keys, std::ostream& out) {
  std::vector<std::string> scalars;
  std::vector<std::pair<std::string, const json*>> nested;
  if (scalar_keys == nullptr) {
    for (const auto& [k, v] : obj.items()) {  // nlohmann keeps keys sorted
      if (IsScalar(v)) {
        scalars.push_back(ScalarText(v));
      } else {
        nested.emplace_back(k, &v);
      }
    }
  } else {
    const std::set<std::string> listed(scalar_keys->begin(), scalar_keys->end());
    for (const auto& k : *scalar_keys) {
      auto it = obj.find(k);
      scalars.push_back(it == obj.end() ? "" : ScalarText(*it));
    }
    for (const auto& [k, v] : obj.items()) {
      if (!listed.count(k)) nested.emplace_back(k, &v);
    }
  }
  if (!scalars.empty()) {
    if (identifier != nullptr) scalars.insert(scalars.begin(), absl::AsciiStrToUpper(*identifier));
    out << absl::StrJoin(scalars, "\t") << "\n";
  }
  for (const auto& [k, v] : nested) Emit(*v, out, &k, nullptr);
}

void Emit(const json& item, std::ostream& out, const std::string* identifier,
          const std::vector<std::string>* scalar_keys) {
  if (item.is_object()) {
    EmitObject(item, identifier, scalar_keys, out);
  } else if (item.is_array()) {
    EmitList(item, identifier, out);
  } else {
    out << ScalarText(item) << "\n";
  }
}

}  // namespace

std::string ScalarText(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "True" : "False";
  if (v.is_null()) return "None";
  return v.dump();
}

std::string FormatText(const json& doc) {
  std::ostringstream out;
  Emit(doc, out, nullptr, nullptr);
  return out.str();
}

}  // namespace minicloud::cli
