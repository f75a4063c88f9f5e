#include "common/volume_limits.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/ec2_error.h"
#include "common/ids.h"

namespace minicloud::volumes {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;
constexpr int64_t kKiB = 1024;

// Sizes and IOPS: botocore CreateVolumeRequest.Size / .Iops, ModifyVolumeRequest.Throughput;
// ratios: the EBS user guide pages named in the header.
constexpr TypeLimits kStandard{1, 1024, false, false, 0, 0, 0, false, 0, 0, false};
constexpr TypeLimits kGp2{1, 16384, false, false, 0, 0, 0, false, 0, 0, false};
constexpr TypeLimits kGp3{1, 65536, true, false, 3000, 80000, 500, true, 125, 2000, false};
constexpr TypeLimits kIo1{4, 16384, true, true, 100, 64000, 50, false, 0, 0, true};
constexpr TypeLimits kIo2{4, 65536, true, true, 100, 256000, 1000, false, 0, 0, true};
constexpr TypeLimits kSt1{125, 16384, false, false, 0, 0, 0, false, 0, 0, false};
constexpr TypeLimits kSc1{125, 16384, false, false, 0, 0, 0, false, 0, 0, false};

absl::Status Combination(absl::string_view message) {
  return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidParameterCombination", message);
}

// Throughput of a type in MiB/s from its size: `per_tib` per TiB, at most `max`.
int64_t PerTiB(int64_t size_gib, int64_t per_tib, int64_t max) {
  return std::min(max, size_gib * per_tib / 1024);
}

}  // namespace

absl::string_view VolumeTypeName(VolumeType t) {
  switch (t) {
    case VolumeType::kStandard:
      return "standard";
    case VolumeType::kGp2:
      return "gp2";
    case VolumeType::kGp3:
      return "gp3";
    case VolumeType::kIo1:
      return "io1";
    case VolumeType::kIo2:
      return "io2";
    case VolumeType::kSt1:
      return "st1";
    case VolumeType::kSc1:
      return "sc1";
  }
  return "";
}

absl::StatusOr<VolumeType> ParseVolumeType(absl::string_view name) {
  for (VolumeType t : kAllVolumeTypes) {
    if (VolumeTypeName(t) == name) return t;
  }
  return InvalidParameterValue(
      absl::StrCat("Value (", QuoteForMessage(name, 32),
                   ") for parameter volumeType is invalid. Valid values: standard, gp2, gp3, io1, "
                   "io2, st1, sc1"));
}

const TypeLimits& LimitsOf(VolumeType t) {
  switch (t) {
    case VolumeType::kStandard:
      return kStandard;
    case VolumeType::kGp2:
      return kGp2;
    case VolumeType::kGp3:
      return kGp3;
    case VolumeType::kIo1:
      return kIo1;
    case VolumeType::kIo2:
      return kIo2;
    case VolumeType::kSt1:
      return kSt1;
    case VolumeType::kSc1:
      return kSc1;
  }
  return kGp2;
}

int64_t Gp2BaselineIops(int64_t size_gib) { return std::clamp<int64_t>(3 * size_gib, 100, 16000); }

absl::StatusOr<VolumePerformance> ResolveVolume(const VolumeRequest& req) {
  const TypeLimits& l = LimitsOf(req.type);
  const absl::string_view type = VolumeTypeName(req.type);
  if (req.size_gib < l.min_size_gib) {
    return InvalidParameterValue(absl::StrCat("Volume of ", req.size_gib, "GiB is too small for ",
                                              type, "; minimum is ", l.min_size_gib, "GiB."));
  }
  if (req.size_gib > l.max_size_gib) {
    return InvalidParameterValue(absl::StrCat("Volume of ", req.size_gib, "GiB is too large for ",
                                              type, "; maximum is ", l.max_size_gib, "GiB."));
  }
  if (req.multi_attach && !l.multi_attach) {
    return Combination(
        absl::StrCat("Multi-Attach is supported only for io1 and io2 volumes, not ", type, "."));
  }
  if (req.throughput_mibps && !l.throughput_settable) {
    return Combination(absl::StrCat("The parameter throughput is not supported for ", type,
                                    " volumes; only gp3 volumes take it."));
  }
  if (req.iops && !l.iops_settable) {
    return Combination(absl::StrCat("The parameter iops is not supported for ", type,
                                    " volumes; only gp3, io1 and io2 volumes take it."));
  }
  if (!req.iops && l.iops_required) {
    return MissingParameter(
        absl::StrCat("The request must contain the parameter iops for ", type, " volumes."));
  }
  VolumePerformance perf;
  if (req.type == VolumeType::kGp2) perf.iops = Gp2BaselineIops(req.size_gib);
  if (l.iops_settable) {
    perf.iops = req.iops.value_or(kGp3DefaultIops);
    if (perf.iops < l.min_iops || perf.iops > l.max_iops) {
      return InvalidParameterValue(
          absl::StrCat("The iops value ", perf.iops, " is out of range for ", type,
                       " volumes; valid values are ", l.min_iops, "-", l.max_iops, "."));
    }
    // The ratio rule binds provisioned IOPS; gp3's 3,000 baseline holds for every size.
    const bool above_baseline = req.type != VolumeType::kGp3 || perf.iops > kGp3DefaultIops;
    if (above_baseline && perf.iops > l.max_iops_per_gib * req.size_gib) {
      return InvalidParameterValue(
          absl::StrFormat("Iops to volume size ratio of %f is too high; maximum is %f.",
                          static_cast<double>(perf.iops) / static_cast<double>(req.size_gib),
                          static_cast<double>(l.max_iops_per_gib)));
    }
  }
  if (l.throughput_settable) {
    perf.throughput_mibps = req.throughput_mibps.value_or(kGp3DefaultThroughputMiBps);
    if (perf.throughput_mibps < l.min_throughput_mibps ||
        perf.throughput_mibps > l.max_throughput_mibps) {
      return InvalidParameterValue(
          absl::StrCat("The throughput value ", perf.throughput_mibps, " is out of range for ",
                       type, " volumes; valid values are ", l.min_throughput_mibps, "-",
                       l.max_throughput_mibps, " MiB/s."));
    }
    if (perf.throughput_mibps > kGp3DefaultThroughputMiBps &&
        perf.throughput_mibps * kGp3IopsPerMiBps > perf.iops) {
      return InvalidParameterValue(absl::StrFormat(
          "Throughput to iops ratio of %f is too high; maximum is 0.250000 MiB/s per iops.",
          static_cast<double>(perf.throughput_mibps) / static_cast<double>(perf.iops)));
    }
  }
  return perf;
}

IoTune IoTuneOf(VolumeType t, int64_t size_gib, const VolumePerformance& perf) {
  IoTune io;
  switch (t) {
    case VolumeType::kGp2: {
      // Baseline 3 IOPS/GiB; below 1,000 GiB bursts to 3,000 IOPS until the 5.4 million credit
      // bucket drains (it refills at the baseline meanwhile). 128 MiB/s up to 170 GiB, else 250.
      io.size_iops_sec = 16 * kKiB;
      io.total_iops_sec = Gp2BaselineIops(size_gib);
      if (io.total_iops_sec < 3000) {
        io.total_iops_sec_max = 3000;
        io.total_iops_sec_max_length = 5'400'000 / (3000 - io.total_iops_sec);
      }
      io.total_bytes_sec = (size_gib <= 170 ? 128 : 250) * kMiB;
      break;
    }
    case VolumeType::kGp3:
      io.size_iops_sec = 16 * kKiB;
      io.total_iops_sec = perf.iops;
      io.total_bytes_sec = perf.throughput_mibps * kMiB;
      break;
    case VolumeType::kIo1: {
      // 256 KiB per IOPS up to 500 MiB/s; above 32,000 IOPS another 16 KiB per IOPS, to 1,000.
      io.size_iops_sec = 16 * kKiB;
      io.total_iops_sec = perf.iops;
      int64_t bytes = std::min<int64_t>(perf.iops * 256 * kKiB, 500 * kMiB);
      if (perf.iops > 32000) bytes += (perf.iops - 32000) * 16 * kKiB;
      io.total_bytes_sec = std::min<int64_t>(bytes, 1000 * kMiB);
      break;
    }
    case VolumeType::kIo2:
      // 0.256 MiB/s (256 KiB) per IOPS, at most 4,000 MiB/s.
      io.size_iops_sec = 16 * kKiB;
      io.total_iops_sec = perf.iops;
      io.total_bytes_sec = std::min<int64_t>(perf.iops * 256 * kKiB, 4000 * kMiB);
      break;
    case VolumeType::kSt1:
      // 500 IOPS of 1 MiB; 40 MiB/s per TiB (at most 500), bursts to 250 per TiB (at most 500).
      io.size_iops_sec = kMiB;
      io.total_iops_sec = 500;
      io.total_bytes_sec = std::max<int64_t>(PerTiB(size_gib, 40, 500), 1) * kMiB;
      io.total_bytes_sec_max = PerTiB(size_gib, 250, 500) * kMiB;
      if (io.total_bytes_sec_max <= io.total_bytes_sec) io.total_bytes_sec_max = 0;
      if (io.total_bytes_sec_max) io.total_bytes_sec_max_length = 60;
      break;
    case VolumeType::kSc1:
      // 250 IOPS of 1 MiB; 12 MiB/s per TiB (at most 192), bursts to 80 per TiB (at most 250).
      io.size_iops_sec = kMiB;
      io.total_iops_sec = 250;
      io.total_bytes_sec = std::max<int64_t>(PerTiB(size_gib, 12, 192), 1) * kMiB;
      io.total_bytes_sec_max = PerTiB(size_gib, 80, 250) * kMiB;
      if (io.total_bytes_sec_max <= io.total_bytes_sec) io.total_bytes_sec_max = 0;
      if (io.total_bytes_sec_max) io.total_bytes_sec_max_length = 60;
      break;
    case VolumeType::kStandard:
      // Magnetic: about 100 IOPS, bursts to a few hundred; 40-90 MiB/s.
      io.size_iops_sec = 16 * kKiB;
      io.total_iops_sec = 100;
      io.total_iops_sec_max = 200;
      io.total_iops_sec_max_length = 60;
      io.total_bytes_sec = 90 * kMiB;
      break;
  }
  return io;
}

absl::StatusOr<std::string> EbsDeviceTarget(absl::string_view device_name) {
  auto invalid = [&] {
    return InvalidParameterValue(absl::StrCat(
        "Value (", QuoteForMessage(device_name, 64), ") for parameter device is invalid. ",
        QuoteForMessage(device_name, 64), " is not a valid EBS device name."));
  };
  auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
  absl::string_view name = device_name;
  if (absl::StartsWith(name, "/dev/")) name.remove_prefix(5);
  absl::string_view letters;
  if (absl::StartsWith(name, "xvd")) {
    letters = name.substr(3);
    const bool one = letters.size() == 1 && letters[0] >= 'b' && letters[0] <= 'z';
    const bool two =
        letters.size() == 2 && letters[0] >= 'b' && letters[0] <= 'd' && lower(letters[1]);
    if (!one && !two) return invalid();
  } else if (absl::StartsWith(name, "sd")) {
    letters = name.substr(2);
    if (letters.size() != 1 || letters[0] < 'b' || letters[0] > 'z') return invalid();
  } else {
    return invalid();
  }
  return absl::StrCat("vd", letters);
}

absl::Status EbsDeviceInUse(absl::string_view device_name) {
  return InvalidParameterValue(absl::StrCat(
      "Invalid value '", QuoteForMessage(device_name, 64), "' for unixDevice. Attachment point ",
      QuoteForMessage(device_name, 64), " is already in use"));
}

}  // namespace minicloud::volumes
