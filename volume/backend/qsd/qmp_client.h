#pragma once

// A QMP (QEMU Machine Protocol) client over a unix socket: one JSON object per line each way.
// Connect reads the greeting and leaves capability negotiation done; Execute sends one command
// and returns its "return" value, skipping the asynchronous events that arrive in between. A
// QMP "error" answer is an absl::Status carrying QEMU's class and description. Not
// thread-safe: its owner serialises calls.

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "common/file/file_util.h"

namespace minicloud::volume {

class QmpClient {
 public:
  // Connects to the QMP socket at `path` and negotiates capabilities. Unavailable when nothing
  // listens there (yet), with the path and errno text.
  static absl::StatusOr<QmpClient> Connect(const std::string& path,
                                           std::chrono::milliseconds timeout);

  QmpClient(QmpClient&&) = default;
  QmpClient& operator=(QmpClient&&) = default;

  // Runs `command` with `arguments` (null: none). The answer's "return" member on success;
  // on a QMP error, FailedPrecondition "<command>: <class>: <desc>" (NotFound for
  // DeviceNotFound); Unavailable when the connection broke or timed out.
  absl::StatusOr<nlohmann::json> Execute(const std::string& command,
                                         const nlohmann::json& arguments = nullptr);

  // True once the connection broke or an answer did not come in time: the daemon is gone or
  // hung, and this client is of no further use.
  bool broken() const { return broken_; }

 private:
  QmpClient(file::UniqueFd fd, std::chrono::milliseconds timeout)
      : fd_(std::move(fd)), timeout_(timeout) {}
  absl::StatusOr<nlohmann::json> ReadMessage();

  file::UniqueFd fd_;
  std::chrono::milliseconds timeout_;
  std::string buffer_;
  bool broken_ = false;
};

}  // namespace minicloud::volume
