#pragma once

// Ranking as named score parts. Every host that passes the filters gets a Score: a fixed array
// of numbers compared in order (lower ranks first), then a tie hash of (request id, host id),
// then the host id. Each strategy object names its parts in a ScoreSchema ("preferred-host",
// "rack-has-group", "free-memory-after", ...). The numbers that decide are the numbers --explain
// prints: the schema only says how to show them. No allocation per candidate: names are
// rendered only for explanations.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "controller/scheduler/fleet.h"
#include "controller/scheduler/scheduler.h"

namespace minicloud::scheduler {

inline constexpr int kMaxScoreParts = 6;

// How a part's stored number relates to what it means (lower stored always ranks first).
enum class PartOrder {
  kYesFirst,    // a yes/no question: stored 0 = yes, 1 = no
  kFewerFirst,  // a count, stored as is
  kMoreFirst,   // an amount, stored negated (more ranks first)
  kLessFirst,   // an amount, stored as is (less ranks first: best fit)
};

struct ScorePartInfo {
  const char* name = "";
  PartOrder order = PartOrder::kFewerFirst;
};

// The parts a strategy ranks by, in order of importance.
struct ScoreSchema {
  int count = 0;
  std::array<ScorePartInfo, kMaxScoreParts> parts{};
};

struct Score {
  std::array<int64_t, kMaxScoreParts> part{};  // parts beyond the schema's count stay 0
  uint64_t tie = 0;                            // MixHash(FNV-1a(request id), FNV-1a(host id))
  int host = -1;                               // fleet index; -1 = no candidate
};

// a ranks before b. A missing candidate (host -1) ranks after every candidate.
inline bool RanksBefore(const Score& a, const Score& b, const Fleet::Host* hosts) {
  if (b.host < 0) return a.host >= 0;
  if (a.host < 0) return false;
  if (a.part != b.part) return a.part < b.part;
  if (a.tie != b.tie) return a.tie < b.tie;
  return hosts[a.host].id < hosts[b.host].id;
}

// Keeps the best candidate and (for explanations) the runner-up.
struct Podium {
  Score first;
  Score second;
  void Offer(const Score& s, const Fleet::Host* hosts, bool keep_second) {
    if (RanksBefore(s, first, hosts)) {
      if (keep_second) second = first;
      first = s;
    } else if (keep_second && RanksBefore(s, second, hosts)) {
      second = s;
    }
  }
};

// --- explanations only ------------------------------------------------------------------------

// The part's meaning from its stored number: "yes"/"no", or the amount.
std::string PartValueText(const ScorePartInfo& info, int64_t stored);

// Every part as name=value, then tie-hash (16 hex digits).
std::vector<ScorePart> RenderScore(const ScoreSchema& schema, const Score& s);

// Why `winner` ranked before `runner_up`: the first part where they differ, e.g.
// "won on free-memory-after: 63488 vs 14336 (h2)"; without a runner-up "the only candidate
// (no runner-up)".
std::string WhyWon(const ScoreSchema& schema, const Score& winner, const Score& runner_up,
                   const Fleet::Host* hosts);

// "preferred-host (yes first), free-memory-after (more first), ..., tie-hash, host id".
std::string RankingOrderText(const ScoreSchema& schema);

}  // namespace minicloud::scheduler
