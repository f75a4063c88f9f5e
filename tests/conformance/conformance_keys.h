#pragma once

// The access key the conformance suite signs with: random, issued for this run.
// TODO(issue 12 item 3): issue it with the controller's AccessKeyService once that lands, so the
// suite also covers the stored (sealed) key path.

#include <random>
#include <string>

#include "controller/auth/access_key_lookup.h"
#include "tests/testing/controller_fixture.h"

namespace minicloud::testing {

class ConformanceKeys {
 public:
  explicit ConformanceKeys(ControllerFixture&) {
    std::random_device rd;
    const char kUpper[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const char kAny[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    id_ = "AKIA";
    for (int i = 0; i < 16; ++i) id_ += kUpper[rd() % 32];
    for (int i = 0; i < 40; ++i) secret_ += kAny[rd() % 64];
    controller::auth::AccessKeySecret key;
    key.secret_access_key = secret_;
    keys_.Put(id_, std::move(key));
  }
  const controller::auth::AccessKeyLookup& lookup() const { return keys_; }
  const std::string& access_key_id() const { return id_; }
  const std::string& secret_access_key() const { return secret_; }

 private:
  controller::auth::InMemoryAccessKeys keys_;
  std::string id_, secret_;
};

}  // namespace minicloud::testing
