#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace minicloud::controller::auth {

// What the verifier needs to know about an access key id.
struct AccessKeySecret {
  std::string secret_access_key;
  // Actions the key may call; nullopt is every action (an account key).
  std::optional<std::vector<std::string>> allowed_actions;
  // Temporary credentials (instance profiles) also need this token in the request
  // (X-Amz-Security-Token); nullopt for long-term keys, which must not carry one.
  std::optional<std::string> session_token;
};

// Where the verifier looks keys up. Contract: NotFound when no active key has that id (a deleted
// key is not found); any other error is the store's own failure. Thread-safe, no network.
class AccessKeyLookup {
 public:
  virtual ~AccessKeyLookup() = default;
  virtual absl::StatusOr<AccessKeySecret> Lookup(absl::string_view access_key_id) const = 0;
};

// A fixed set of keys in memory: tests and tools. Thread-safe.
class InMemoryAccessKeys final : public AccessKeyLookup {
 public:
  void Put(std::string access_key_id, AccessKeySecret secret);
  void Remove(absl::string_view access_key_id);
  absl::StatusOr<AccessKeySecret> Lookup(absl::string_view access_key_id) const override;

 private:
  mutable std::mutex mu_;
  std::map<std::string, AccessKeySecret, std::less<>> keys_;
};

}  // namespace minicloud::controller::auth
