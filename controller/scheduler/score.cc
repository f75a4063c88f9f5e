// Rendering of score parts for --explain (score.h).

#include "controller/scheduler/score.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace minicloud::scheduler {

namespace {

const char* OrderText(PartOrder o) {
  switch (o) {
    case PartOrder::kYesFirst:
      return "yes first";
    case PartOrder::kFewerFirst:
      return "fewer first";
    case PartOrder::kMoreFirst:
      return "more first";
    case PartOrder::kLessFirst:
      return "less first";
  }
  return "";
}

std::string TieText(uint64_t tie) { return absl::StrFormat("%016x", tie); }

}  // namespace

std::string PartValueText(const ScorePartInfo& info, int64_t stored) {
  switch (info.order) {
    case PartOrder::kYesFirst:
      return stored == 0 ? "yes" : "no";
    case PartOrder::kMoreFirst:
      return absl::StrCat(-stored);
    case PartOrder::kFewerFirst:
    case PartOrder::kLessFirst:
      return absl::StrCat(stored);
  }
  return "";
}

std::vector<ScorePart> RenderScore(const ScoreSchema& schema, const Score& s) {
  std::vector<ScorePart> out;
  out.reserve(schema.count + 1);
  for (int i = 0; i < schema.count; ++i) {
    out.push_back({schema.parts[i].name, PartValueText(schema.parts[i], s.part[i])});
  }
  out.push_back({"tie-hash", TieText(s.tie)});
  return out;
}

std::string WhyWon(const ScoreSchema& schema, const Score& winner, const Score& runner_up,
                   const Fleet::Host* hosts) {
  if (runner_up.host < 0) return "the only candidate (no runner-up)";
  const std::string& other = hosts[runner_up.host].id;
  for (int i = 0; i < schema.count; ++i) {
    if (winner.part[i] != runner_up.part[i]) {
      return absl::StrCat("won on ", schema.parts[i].name, ": ",
                          PartValueText(schema.parts[i], winner.part[i]), " vs ",
                          PartValueText(schema.parts[i], runner_up.part[i]), " (", other, ")");
    }
  }
  if (winner.tie != runner_up.tie) {
    return absl::StrCat("won on tie-hash: ", TieText(winner.tie), " vs ", TieText(runner_up.tie),
                        " (", other, ")");
  }
  return absl::StrCat("won on host id (", other, ")");
}

std::string RankingOrderText(const ScoreSchema& schema) {
  std::string out;
  for (int i = 0; i < schema.count; ++i) {
    absl::StrAppend(&out, schema.parts[i].name, " (", OrderText(schema.parts[i].order), "), ");
  }
  absl::StrAppend(&out, "tie-hash (lower first), host id");
  return out;
}

}  // namespace minicloud::scheduler
