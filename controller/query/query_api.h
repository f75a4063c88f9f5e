#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>

#include "absl/container/node_hash_map.h"
#include "common/auth/signed_request.h"
#include "controller/query/action.h"
#include "controller/query/http_types.h"

namespace minicloud::query {

inline constexpr char kApiVersion[] = "2016-11-15";

// The EC2 Query protocol over the controller's services. For every request, in this order:
// authenticate the raw request with `verifier` (nothing is parsed before), decode the form and
// query string into one parameter tree, check Action and Version, refuse actions the caller's
// credentials do not allow, run the action (parse → UnknownParameter check → service), and
// answer EC2's XML or EC2's error document. Thread-safe; never throws on any input.
class QueryApi {
 public:
  QueryApi(Services services, const auth::RequestVerifier& verifier, uint64_t request_id_seed);

  HttpResponse Handle(const HttpRequest& request);

  // The action names this API answers, sorted (docs and tests).
  std::vector<std::string> ActionNames() const;

 private:
  absl::Status Dispatch(const HttpRequest& request, const std::string& request_id,
                        std::string* body);
  std::string NextRequestId();

  Services services_;
  const auth::RequestVerifier& verifier_;
  const ActionTable actions_;
  // The size of each action's last answer: its next body is reserved at that size, so a
  // multi-megabyte answer is written once into memory allocated once (no regrowth copies).
  absl::node_hash_map<std::string, std::atomic<size_t>> body_sizes_;
  std::mutex rng_mu_;
  std::mt19937_64 rng_;  // guarded by rng_mu_
};

// Every action, by name (the one table).
ActionTable BuildActionTable();

}  // namespace minicloud::query
