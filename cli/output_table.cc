// `--output table` in the aws CLI's layout (see cli/output.h): sections of boxed rows, column
// widths scaled to the widest section, sections indented by nesting. Written from the layout's
// rules; checked byte for byte against the aws CLI's own formatter in
// tests/unit/cli/output_test.cc. Widths count code points (the aws CLI counts East Asian wide
// characters twice; we do not).
#include <algorithm>
#include <cfenv>
#include <cmath>
#include <set>
#include <sstream>
#include <vector>

#include "cli/output.h"

namespace minicloud::cli {
namespace {

using nlohmann::json;

int TextWidth(const std::string& s) {
  int n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;  // count UTF-8 lead bytes
  return n;
}

std::string Spaces(int n) { return n > 0 ? std::string(n, ' ') : ""; }

struct Section {
  std::string title;
  std::vector<std::string> headers;
  std::vector<std::vector<std::string>> rows;
  int indent = 0;
  std::vector<int> max_widths;

  void Widen(const std::vector<std::string>& cells) {
    if (max_widths.empty()) {
      for (const auto& c : cells) max_widths.push_back(TextWidth(c));
      return;
    }
    for (size_t i = 0; i < cells.size() && i < max_widths.size(); ++i) {
      max_widths[i] = std::max(max_widths[i], TextWidth(cells[i]));
    }
  }
  void AddHeader(const std::vector<std::string>& h) {
    Widen(h);
    headers = h;
  }
  void AddRow(const std::vector<std::string>& r) {
    rows.push_back(r);
    Widen(r);
  }

  // Column widths with `padding`, scaled so that they add up to max_width (ties round to even,
  // the leftover spread from the left when too wide and from the right when too narrow).
  std::vector<int> ColumnWidths(int padding, int max_width) const {
    std::vector<int> widths;
    for (int w : max_widths) widths.push_back(w + padding);
    if (widths.empty()) return widths;
    int sum = 0;
    for (int w : widths) sum += w;
    const double scale = static_cast<double>(max_width) / sum;
    int total = 0;
    for (int& w : widths) {
      w = static_cast<int>(std::nearbyint(scale * w));  // FE_TONEAREST: half to even
      total += w;
    }
    int off_by = total - max_width;
    while (off_by != 0) {
      const int n = static_cast<int>(widths.size());
      for (int k = 0; k < n && off_by != 0; ++k) {
        const int i = off_by < 0 ? n - 1 - k : k;
        if (off_by > 0) {
          --widths[i];
          --off_by;
        } else {
          ++widths[i];
          ++off_by;
        }
      }
    }
    return widths;
  }

  int TotalWidth() const {
    int total = 0;
    for (int w : max_widths) total += w + 4;
    total += 2 + 2 * indent;
    return std::max(TextWidth(title) + 2 + 2 * indent, total);
  }
};

std::string Center(const std::string& text, int length, const std::string& left,
                   const std::string& right) {
  const int tl = TextWidth(text);
  const int start = length / 2 - tl / 2 - 1;
  const int so_far = TextWidth(left) + start + tl;  // a negative start counts, as in aws
  return left + Spaces(start) + text + Spaces(length - TextWidth(right) - so_far) + right;
}

std::string AlignLeft(const std::string& text, int length, const std::string& left,
                      const std::string& right) {
  const int tl = TextWidth(text);
  const int padding = length - (tl + 2 + TextWidth(left) + TextWidth(right)) >= 0 ? 2 : 0;
  return left + Spaces(padding) + text +
         Spaces(length - TextWidth(left) - padding - tl - TextWidth(right)) + right;
}

class TableBuilder {
 public:
  std::vector<Section> sections;

  bool Build(const std::string* title, const json& current, int indent) {
    if (Empty(current)) return false;
    if (title != nullptr) NewSection(*title, indent);
    if (current.is_array()) {
      if (current[0].is_object()) {
        FromList(current, indent, title);
      } else {
        for (const auto& item : current) {
          if (IsScalar(item)) {
            Row({ScalarText(item)});
          } else if (AllScalar(item)) {
            std::vector<std::string> cells;
            if (item.is_object()) {
              for (const auto& [k, v] : item.items()) cells.push_back(k);
            } else {
              for (const auto& v : item) cells.push_back(ScalarText(v));
            }
            Row(cells);
          } else {
            Build(nullptr, item, 0);
          }
        }
      }
    }
    if (current.is_object()) FromObject(current, indent);
    return true;
  }

 private:
  static bool IsScalar(const json& v) { return !v.is_object() && !v.is_array(); }
  // Python's truth value of the parsed JSON.
  static bool Empty(const json& v) {
    if (v.is_null()) return true;
    if (v.is_boolean()) return !v.get<bool>();
    if (v.is_number()) return v.get<double>() == 0;
    if (v.is_string()) return v.get<std::string>().empty();
    return v.empty();
  }
  // An object's members here are its keys (strings), as iterating a dict gives.
  static bool AllScalar(const json& v) {
    if (v.is_object()) return true;
    for (const auto& el : v) {
      if (!IsScalar(el)) return false;
    }
    return true;
  }

  void NewSection(const std::string& title, int indent) {
    sections.emplace_back();
    sections.back().title = title;
    sections.back().indent = indent;
  }
  Section& Current() {
    if (sections.empty()) sections.emplace_back();
    return sections.back();
  }
  void Row(const std::vector<std::string>& cells) { Current().AddRow(cells); }

  static void GroupKeys(const json& obj, std::set<std::string>& scalars,
                        std::set<std::string>& nested) {
    for (const auto& [k, v] : obj.items()) (IsScalar(v) ? scalars : nested).insert(k);
  }

  void FromObject(const json& obj, int indent) {
    std::set<std::string> scalar_set, nested;
    GroupKeys(obj, scalar_set, nested);
    const std::vector<std::string> headers(scalar_set.begin(), scalar_set.end());
    if (headers.size() == 1) {
      Row({headers[0], ScalarText(obj[headers[0]])});
    } else if (!headers.empty()) {
      Current().AddHeader(headers);
      std::vector<std::string> cells;
      for (const auto& h : headers) cells.push_back(ScalarText(obj[h]));
      Row(cells);
    }
    for (const auto& k : nested) Build(&k, obj[k], indent + 1);
  }

  void FromList(const json& list, int indent, const std::string* title) {
    std::set<std::string> scalar_set, nested;
    for (const auto& el : list) {
      if (el.is_object()) GroupKeys(el, scalar_set, nested);
    }
    const std::vector<std::string> headers(scalar_set.begin(), scalar_set.end());
    Current().AddHeader(headers);
    bool first = true;
    for (const auto& el : list) {
      if (!first && !nested.empty()) {
        NewSection(title != nullptr ? *title : "", indent);
        Current().AddHeader(headers);
      }
      first = false;
      std::vector<std::string> cells;
      for (const auto& h : headers) {
        auto it = el.is_object() ? el.find(h) : el.end();
        cells.push_back(el.is_object() && it != el.end() ? ScalarText(*it) : "");
      }
      Row(cells);
      if (!el.is_object()) continue;
      for (const auto& k : nested) {
        if (el.contains(k)) Build(&k, el[k], indent + 1);
      }
    }
  }
};

void LineBreak(std::ostream& out, const std::vector<int>& widths) {
  for (size_t i = 0; i < widths.size(); ++i) {
    out << (i == 0 ? "+" + std::string(std::max(widths[i] - 2, 0), '-') + "+"
                   : std::string(std::max(widths[i] - 1, 0), '-') + "+");
  }
}

void RenderSection(const Section& s, int max_width, std::ostream& out) {
  const std::string edge(s.indent, '|');
  auto line = [&](const std::string& text) { out << edge << text << edge << "\n"; };
  max_width -= s.indent * 2;
  if (!s.title.empty()) {
    line(Center(s.title, max_width, "|", "|"));
    if (s.headers.empty() && s.rows.empty()) {
      line("+" + std::string(std::max(max_width - 2, 0), '-') + "+");
    }
  }
  if (!s.headers.empty()) {
    const auto widths = s.ColumnWidths(4, max_width);
    std::ostringstream br;
    LineBreak(br, widths);
    line(br.str());
    std::string cur;
    for (size_t i = 0; i < widths.size() && i < s.headers.size(); ++i) {
      cur += Center(s.headers[i], widths[i], i == 0 ? "|" : "", "|");
    }
    line(cur);
  }
  if (s.rows.empty()) return;
  const auto widths = s.ColumnWidths(4, max_width);
  if (widths.empty()) return;
  std::ostringstream br;
  LineBreak(br, widths);
  line(br.str());
  for (const auto& row : s.rows) {
    std::string cur;
    for (size_t i = 0; i < widths.size() && i < row.size(); ++i) {
      cur += AlignLeft(row[i], widths[i], i == 0 ? "|" : "", "|");
    }
    line(cur);
  }
  line(br.str());
}

int MaxWidth(const std::vector<Section>& sections) {
  int w = 0;
  for (const auto& s : sections) w = std::max(w, s.TotalWidth());
  return w;
}

}  // namespace

std::string FormatTable(const std::string& title, const json& doc, int terminal_width) {
  TableBuilder b;
  if (!b.Build(&title, doc, 0)) return "";
  int max_width = MaxWidth(b.sections);
  if (max_width > terminal_width) {
    // Too wide: every section of one row under headers becomes header|value rows.
    for (auto& s : b.sections) {
      if (s.rows.size() != 1 || s.headers.empty()) continue;
      Section v;
      v.title = s.title;
      v.indent = s.indent;
      for (size_t i = 0; i < s.headers.size() && i < s.rows[0].size(); ++i) {
        v.AddRow({s.headers[i], s.rows[0][i]});
      }
      s = v;
    }
    max_width = MaxWidth(b.sections);
  }
  std::ostringstream out;
  out << std::string(max_width, '-') << "\n";
  for (const auto& s : b.sections) RenderSection(s, max_width, out);
  return out.str();
}

}  // namespace minicloud::cli
