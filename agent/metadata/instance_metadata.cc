#include "agent/metadata/instance_metadata.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace minicloud::metadata {

std::string Ec2PrivateDnsName(absl::string_view ipv4, absl::string_view region) {
  std::string host = absl::StrCat("ip-", absl::StrReplaceAll(ipv4, {{".", "-"}}));
  if (region == "us-east-1") return absl::StrCat(host, ".ec2.internal");
  return absl::StrCat(host, ".", region, ".compute.internal");
}

absl::Status ValidateInstanceMetadata(const InstanceMetadata& m) {
  if (m.instance_id.empty())
    return absl::InvalidArgumentError("instance metadata: empty instance_id");
  const int hop = m.options.http_put_response_hop_limit;
  if (hop < kMinHopLimit || hop > kMaxHopLimit) {
    return absl::InvalidArgumentError(absl::StrCat("instance metadata ", m.instance_id,
                                                   ": http_put_response_hop_limit ", hop,
                                                   " outside ", kMinHopLimit, "..", kMaxHopLimit));
  }
  if (m.user_data && m.user_data->size() > kMaxUserDataBytes) {
    return absl::InvalidArgumentError(absl::StrCat("instance metadata ", m.instance_id,
                                                   ": user data is ", m.user_data->size(),
                                                   " bytes, EC2 allows ", kMaxUserDataBytes));
  }
  if (m.placement_partition_number &&
      (*m.placement_partition_number < 1 || *m.placement_partition_number > kMaxPartitions)) {
    return absl::InvalidArgumentError(
        absl::StrCat("instance metadata ", m.instance_id, ": partition number ",
                     *m.placement_partition_number, " outside 1..", kMaxPartitions));
  }
  if (m.public_keys.size() > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("instance metadata ", m.instance_id, ": more than 64 public keys"));
  }
  for (const auto& key : m.public_keys) {
    if (key.name.empty() || key.name.find('\n') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("instance metadata ", m.instance_id, ": bad public key name"));
    }
  }
  if (m.iam) {
    bool ok = !m.iam->role_name.empty() && m.iam->role_name.size() <= 128;
    for (char c : m.iam->role_name) {
      ok = ok && (absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                  absl::string_view("+=,.@_-").find(c) != absl::string_view::npos);
    }
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("instance metadata ", m.instance_id, ": bad IAM role name"));
    }
  }
  return absl::OkStatus();
}

}  // namespace minicloud::metadata
