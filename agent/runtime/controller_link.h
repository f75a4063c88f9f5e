#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "minicloud/v1/host.pb.h"

namespace minicloud::agent {

// The agent's calls to the controller. Implementations are thread-safe and bound every call
// in time; errors carry the controller's address.
class ControllerLink {
 public:
  virtual ~ControllerLink() = default;
  virtual absl::StatusOr<v1::RegisterHostResponse> Register(const v1::RegisterHostRequest& req) = 0;
  virtual absl::Status Report(const v1::ReportStatusRequest& req) = 0;
  virtual absl::StatusOr<v1::DesiredState> Watch(const v1::WatchDesiredRequest& req) = 0;
  // Streams a blob from `offset`; `sink` receives each chunk in order and may abort by
  // returning an error.
  virtual absl::Status FetchBlob(const std::string& sha256, int64_t offset,
                                 const std::function<absl::Status(absl::string_view)>& sink) = 0;
};

std::unique_ptr<ControllerLink> MakeGrpcControllerLink(const std::string& endpoint);

}  // namespace minicloud::agent
