// EC2's volume rules as tables (common/volume_limits.h): each row a request and the resolved
// performance or the EC2 error; then the iotune each type is enforced with.
#include "common/volume_limits.h"

#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"

namespace minicloud::volumes {
namespace {

using T = VolumeType;
constexpr std::nullopt_t kUnset = std::nullopt;

struct Row {
  T type;
  int64_t size;
  std::optional<int64_t> iops;
  std::optional<int64_t> throughput;
  bool multi_attach;
  std::string error;  // EC2 code; "" = accepted
  int64_t want_iops = 0;
  int64_t want_throughput = 0;
};

TEST_CASE("volume rules: sizes, IOPS, throughput and Multi-Attach per type") {
  // Each row names the one-line bug it catches in its comment.
  const std::vector<Row> rows{
      // sizes: both ends of each type's range, and one past them (off-by-one in a bound)
      {T::kGp2, 1, kUnset, kUnset, false, "", 100},
      {T::kGp2, 0, kUnset, kUnset, false, "InvalidParameterValue"},
      {T::kGp2, 16384, kUnset, kUnset, false, "", 16000},
      {T::kGp2, 16385, kUnset, kUnset, false, "InvalidParameterValue"},
      {T::kGp3, 65536, kUnset, kUnset, false, "", 3000, 125},  // gp3's 2025 limit (botocore)
      {T::kGp3, 65537, kUnset, kUnset, false, "InvalidParameterValue"},
      {T::kIo1, 3, 100, kUnset, false, "InvalidParameterValue"},  // io1 starts at 4 GiB
      {T::kIo1, 4, 100, kUnset, false, "", 100},
      {T::kIo1, 16385, 100, kUnset, false, "InvalidParameterValue"},
      {T::kIo2, 65536, 100, kUnset, false, "", 100},  // Block Express sizes
      {T::kIo2, 65537, 100, kUnset, false, "InvalidParameterValue"},
      {T::kSt1, 124, kUnset, kUnset, false, "InvalidParameterValue"},  // HDDs start at 125 GiB
      {T::kSt1, 125, kUnset, kUnset, false, "", 0},
      {T::kSc1, 16384, kUnset, kUnset, false, "", 0},
      {T::kSc1, 16385, kUnset, kUnset, false, "InvalidParameterValue"},
      {T::kStandard, 1024, kUnset, kUnset, false, "", 0},
      {T::kStandard, 1025, kUnset, kUnset, false, "InvalidParameterValue"},
      // gp2's baseline: 3 per GiB between 100 and 16,000 (a missing clamp)
      {T::kGp2, 100, kUnset, kUnset, false, "", 300},
      {T::kGp2, 5334, kUnset, kUnset, false, "", 16000},
      // IOPS not settable (gp2, st1, sc1, standard)
      {T::kGp2, 100, 300, kUnset, false, "InvalidParameterCombination"},
      {T::kSt1, 500, 500, kUnset, false, "InvalidParameterCombination"},
      {T::kStandard, 10, 100, kUnset, false, "InvalidParameterCombination"},
      // IOPS required (io1, io2)
      {T::kIo1, 100, kUnset, kUnset, false, "MissingParameter"},
      {T::kIo2, 100, kUnset, kUnset, false, "MissingParameter"},
      // IOPS ranges
      {T::kIo1, 100, 99, kUnset, false, "InvalidParameterValue"},
      {T::kIo1, 2000, 64000, kUnset, false, "", 64000},
      {T::kIo1, 2000, 64001, kUnset, false, "InvalidParameterValue"},
      {T::kIo2, 300, 256000, kUnset, false, "", 256000},
      {T::kIo2, 300, 256001, kUnset, false, "InvalidParameterValue"},
      {T::kGp3, 200, 2999, kUnset, false, "InvalidParameterValue"},
      {T::kGp3, 200, 80000, kUnset, false, "", 80000, 125},
      {T::kGp3, 200, 80001, kUnset, false, "InvalidParameterValue"},
      // ratios: io1 50/GiB, io2 1000/GiB, gp3 500/GiB above its 3,000 baseline
      {T::kIo1, 10, 500, kUnset, false, "", 500},
      {T::kIo1, 10, 501, kUnset, false, "InvalidParameterValue"},
      {T::kIo2, 10, 10000, kUnset, false, "", 10000},
      {T::kIo2, 10, 10001, kUnset, false, "InvalidParameterValue"},
      {T::kGp3, 1, 3000, kUnset, false, "", 3000, 125},  // the baseline holds at 1 GiB
      {T::kGp3, 8, 4000, kUnset, false, "", 4000, 125},
      {T::kGp3, 8, 4001, kUnset, false, "InvalidParameterValue"},
      // gp3 throughput: 125..2,000 MiB/s and at most 0.25 MiB/s per IOPS
      {T::kGp3, 100, kUnset, 124, false, "InvalidParameterValue"},
      {T::kGp3, 100, kUnset, 750, false, "", 3000, 750},
      {T::kGp3, 100, kUnset, 751, false, "InvalidParameterValue"},
      {T::kGp3, 100, 8000, 2000, false, "", 8000, 2000},
      {T::kGp3, 100, 8000, 2001, false, "InvalidParameterValue"},
      {T::kIo2, 100, 1000, 500, false, "InvalidParameterCombination"},  // throughput: gp3 only
      {T::kGp2, 100, kUnset, 125, false, "InvalidParameterCombination"},
      // Multi-Attach: io1 and io2 only
      {T::kIo1, 100, 1000, kUnset, true, "", 1000},
      {T::kIo2, 100, 1000, kUnset, true, "", 1000},
      {T::kGp3, 100, kUnset, kUnset, true, "InvalidParameterCombination"},
      {T::kGp2, 100, kUnset, kUnset, true, "InvalidParameterCombination"},
  };
  for (const Row& r : rows) {
    INFO(absl::StrCat(VolumeTypeName(r.type), " ", r.size, " GiB iops=", r.iops.value_or(-1),
                      " throughput=", r.throughput.value_or(-1), " multi=", r.multi_attach));
    auto got = ResolveVolume(VolumeRequest{r.type, r.size, r.iops, r.throughput, r.multi_attach});
    if (!r.error.empty()) {
      REQUIRE_FALSE(got.ok());
      CHECK(Ec2CodeOf(got.status()) == r.error);
      continue;
    }
    REQUIRE(got.ok());
    CHECK(got->iops == r.want_iops);
    CHECK(got->throughput_mibps == r.want_throughput);
  }
}

TEST_CASE("volume types: EC2's names both ways, gp2 by default") {
  // Bugs caught: a name that does not round-trip; "GP2" accepted; the default not gp2.
  for (T t : kAllVolumeTypes) CHECK(*ParseVolumeType(VolumeTypeName(t)) == t);
  CHECK(Ec2CodeOf(ParseVolumeType("GP2").status()) == "InvalidParameterValue");
  CHECK(Ec2CodeOf(ParseVolumeType("").status()) == "InvalidParameterValue");
  CHECK(kDefaultVolumeType == T::kGp2);
  CHECK(kMaxMultiAttachInstances == 16);
}

TEST_CASE("the ratio error is worded as EC2's") {
  // Bug caught: a ratio message that hides the numbers.
  auto s = ResolveVolume(VolumeRequest{T::kIo1, 10, 1000, kUnset, false}).status();
  CHECK(s.message() ==
        "Iops to volume size ratio of 100.000000 is too high; maximum is 50.000000.");
}

constexpr int64_t kMiB = 1 << 20;

TEST_CASE("iotune: each type's limits") {
  // gp2 100 GiB: 300 IOPS baseline, bursts to 3,000 for 5.4M / 2,700 = 2,000 s, 128 MiB/s.
  IoTune gp2 = IoTuneOf(T::kGp2, 100, {300, 0});
  CHECK(gp2.total_iops_sec == 300);
  CHECK(gp2.total_iops_sec_max == 3000);
  CHECK(gp2.total_iops_sec_max_length == 2000);
  CHECK(gp2.total_bytes_sec == 128 * kMiB);
  CHECK(gp2.size_iops_sec == 16384);
  // gp2 at 1,000 GiB has no burst above its 3,000 baseline (a burst limit below the baseline).
  IoTune big = IoTuneOf(T::kGp2, 1000, {3000, 0});
  CHECK(big.total_iops_sec == 3000);
  CHECK(big.total_iops_sec_max == 0);
  CHECK(big.total_bytes_sec == 250 * kMiB);
  // gp3 takes what was provisioned.
  IoTune gp3 = IoTuneOf(T::kGp3, 50, {4000, 500});
  CHECK(gp3.total_iops_sec == 4000);
  CHECK(gp3.total_bytes_sec == 500 * kMiB);
  // io1: 256 KiB per IOPS to 500 MiB/s, then 16 KiB per IOPS above 32,000 to 1,000.
  CHECK(IoTuneOf(T::kIo1, 100, {1000, 0}).total_bytes_sec == 250 * kMiB);
  CHECK(IoTuneOf(T::kIo1, 1000, {32000, 0}).total_bytes_sec == 500 * kMiB);
  CHECK(IoTuneOf(T::kIo1, 2000, {64000, 0}).total_bytes_sec == 1000 * kMiB);
  // io2: 256 KiB per IOPS up to 4,000 MiB/s.
  CHECK(IoTuneOf(T::kIo2, 100, {10000, 0}).total_bytes_sec == 2500 * kMiB);
  CHECK(IoTuneOf(T::kIo2, 1000, {256000, 0}).total_bytes_sec == 4000 * kMiB);
  // st1 2 TiB: 80 MiB/s baseline, 500 burst; counted in 1 MiB I/Os.
  IoTune st1 = IoTuneOf(T::kSt1, 2048, {0, 0});
  CHECK(st1.total_bytes_sec == 80 * kMiB);
  CHECK(st1.total_bytes_sec_max == 500 * kMiB);
  CHECK(st1.size_iops_sec == kMiB);
  // sc1 16 TiB: 192 MiB/s (capped), 250 burst.
  IoTune sc1 = IoTuneOf(T::kSc1, 16384, {0, 0});
  CHECK(sc1.total_bytes_sec == 192 * kMiB);
  CHECK(sc1.total_bytes_sec_max == 250 * kMiB);
  // A gp2 volume really is slower than an io2 one of the same size.
  CHECK(IoTuneOf(T::kGp2, 100, {300, 0}).total_iops_sec <
        IoTuneOf(T::kIo2, 100, {100000, 0}).total_iops_sec);
}

}  // namespace
}  // namespace minicloud::volumes
