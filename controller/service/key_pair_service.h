#pragma once

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/ids.h"
#include "controller/service/cloud_state.h"
#include "minicloud/v1/compute.pb.h"

namespace minicloud::controller {

// EC2 key pairs: create (private key returned once, never stored), import, describe, delete.
// Thread-safe.
class KeyPairService {
 public:
  KeyPairService(CloudState& state, const Clock& clock, IdGenerator& ids)
      : state_(state), clock_(clock), ids_(ids) {}

  absl::StatusOr<v1::CreateKeyPairResponse> CreateKeyPair(const v1::CreateKeyPairRequest& req);
  absl::StatusOr<v1::ImportKeyPairResponse> ImportKeyPair(const v1::ImportKeyPairRequest& req);
  absl::StatusOr<v1::DescribeKeyPairsResponse> DescribeKeyPairs(
      const v1::DescribeKeyPairsRequest& req);
  absl::StatusOr<v1::DeleteKeyPairResponse> DeleteKeyPair(const v1::DeleteKeyPairRequest& req);

 private:
  absl::StatusOr<v1::KeyPairInfo> Store(const std::string& name, const std::string& type,
                                        const std::string& fingerprint,
                                        const std::string& public_key,
                                        const google::protobuf::RepeatedPtrField<v1::Tag>& tags);
  CloudState& state_;
  const Clock& clock_;
  IdGenerator& ids_;
};

}  // namespace minicloud::controller
