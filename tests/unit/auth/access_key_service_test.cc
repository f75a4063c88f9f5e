// Access keys over a real RocksDB store: the key and secret formats, the secret sealed at rest
// (AES-256-GCM under the master key file), shown once, deletion that takes effect at once and
// survives a restart, and the first-start credentials file. Each case names the bug it catches.

#include "controller/auth/access_key_service.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "common/auth/sigv4.h"
#include "common/ec2_error.h"
#include "controller/auth/sigv4_verifier.h"
#include "controller/store/rocksdb_store.h"
#include "tests/testing/temp_dir.h"

namespace minicloud::controller::auth {
namespace {

using minicloud::testing::TempDir;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

struct Env {
  TempDir dir;
  FakeClock clock{absl::FromUnixSeconds(1796400000)};
  std::unique_ptr<RocksDbStore> store;
  std::unique_ptr<AccessKeyService> keys;

  Env() { Open(); }
  void Open(const std::string& key_file = "master.key") {
    keys.reset();
    store.reset();
    store = std::move(*RocksDbStore::Open(dir / "db"));
    auto box = SecretBox::LoadOrCreate(dir / key_file);
    REQUIRE(box.ok());
    keys = std::make_unique<AccessKeyService>(*store, clock, *std::move(box));
  }
};

// Catches: a key id or secret drawn from the wrong alphabet or of the wrong length.
TEST_CASE("access keys look like AWS's and the secret is shown only at creation", "[auth]") {
  Env env;
  REQUIRE(env.keys->Load().ok());
  auto created = env.keys->CreateAccessKey({});
  REQUIRE(created.ok());
  const v1::AccessKey& k = created->access_key();
  REQUIRE(std::regex_match(k.access_key_id(), std::regex("AKIA[A-Z2-7]{16}")));
  REQUIRE(std::regex_match(k.secret_access_key(), std::regex("[A-Za-z0-9+/]{40}")));
  REQUIRE(k.status() == "Active");
  REQUIRE(k.create_date().seconds() == 1796400000);

  auto listed = env.keys->ListAccessKeys({});
  REQUIRE(listed.ok());
  REQUIRE(listed->access_key_metadata_size() == 1);
  REQUIRE(listed->access_key_metadata(0).access_key_id() == k.access_key_id());
  // Catches: ListAccessKeys leaking the secret anywhere in its answer.
  REQUIRE_FALSE(absl::StrContains(listed->SerializeAsString(), k.secret_access_key()));

  auto looked_up = env.keys->Lookup(k.access_key_id());
  REQUIRE(looked_up.ok());
  REQUIRE(looked_up->secret_access_key == k.secret_access_key());
}

// Catches: the secret stored in the clear, or sealed without binding it to its key id.
TEST_CASE("the secret is sealed at rest and opens only with the same master key", "[auth]") {
  Env env;
  REQUIRE(env.keys->Load().ok());
  auto created = env.keys->CreateAccessKey({});
  REQUIRE(created.ok());
  const std::string secret = created->access_key().secret_access_key();
  auto rows = env.store->Scan(Table::kAccessKeys);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 1);
  REQUIRE_FALSE(absl::StrContains((*rows)[0].second, secret));

  REQUIRE(ModeOf(env.dir / "master.key") == 0600);
  REQUIRE(ReadAll(env.dir / "master.key").size() == kMasterKeyBytes);

  env.Open();  // a restart: same store, same master key
  REQUIRE(env.keys->Load().ok());
  auto again = env.keys->Lookup(created->access_key().access_key_id());
  REQUIRE(again.ok());
  REQUIRE(again->secret_access_key == secret);

  env.Open("other.key");  // a master key that did not seal these secrets
  auto load = env.keys->Load();
  REQUIRE(load.code() == absl::StatusCode::kDataLoss);
  REQUIRE_FALSE(absl::StrContains(load.message(), secret));
}

// Catches: a sealed secret accepted after tampering or under another key id (AAD ignored).
TEST_CASE("SecretBox refuses altered bytes and another key id", "[auth]") {
  auto box = SecretBox::FromKey(std::string(32, 'k'));
  REQUIRE(box.ok());
  auto sealed = box->Seal("the secret", "AKIAAAAAAAAAAAAAAAAA");
  REQUIRE(sealed.ok());
  REQUIRE(*box->Open(*sealed, "AKIAAAAAAAAAAAAAAAAA") == "the secret");
  REQUIRE_FALSE(box->Open(*sealed, "AKIABBBBBBBBBBBBBBBB").ok());
  std::string flipped = *sealed;
  flipped[14] ^= 1;
  REQUIRE_FALSE(box->Open(flipped, "AKIAAAAAAAAAAAAAAAAA").ok());
  REQUIRE_FALSE(box->Open(sealed->substr(0, 20), "AKIAAAAAAAAAAAAAAAAA").ok());
  // Two seals of one secret differ (a fresh nonce each time).
  REQUIRE(*box->Seal("the secret", "x") != *box->Seal("the secret", "x"));
}

// Catches: a master key file that others may read being used (and so trusted) anyway.
TEST_CASE("a master key file open to others is refused", "[auth]") {
  TempDir dir;
  REQUIRE(SecretBox::LoadOrCreate(dir / "master.key").ok());
  REQUIRE(::chmod((dir / "master.key").c_str(), 0644) == 0);
  auto box = SecretBox::LoadOrCreate(dir / "master.key");
  REQUIRE(box.status().code() == absl::StatusCode::kFailedPrecondition);
}

// Catches: a deleted key that still verifies (cache not updated) or comes back after a restart.
TEST_CASE("a deleted key stops verifying at once and stays deleted", "[auth]") {
  Env env;
  REQUIRE(env.keys->Load().ok());
  auto created = env.keys->CreateAccessKey({});
  REQUIRE(created.ok());
  const v1::AccessKey& k = created->access_key();
  auto verifier = MakeSigV4Verifier(*env.keys, env.clock, "home-1");
  auto signed_request = [&] {
    SignedRequest r{"POST", "/minicloud.v1.ComputeService/DescribeInstances", "", {}, "x"};
    minicloud::auth::sigv4::SignRequest(r, {k.access_key_id(), k.secret_access_key()}, "home-1",
                                        "ec2", env.clock.Now());
    return r;
  };
  REQUIRE(verifier->Verify(signed_request(), "ec2").ok());

  v1::DeleteAccessKeyRequest del;
  del.set_access_key_id(k.access_key_id());
  REQUIRE(env.keys->DeleteAccessKey(del).ok());
  auto refused = verifier->Verify(signed_request(), "ec2");
  REQUIRE(Ec2CodeOf(refused.status()) == "AuthFailure");

  auto again = env.keys->DeleteAccessKey(del);
  REQUIRE(Ec2CodeOf(again.status()) == "NoSuchEntity");

  env.Open();
  REQUIRE(env.keys->Load().ok());
  REQUIRE(env.keys->size() == 0);
  REQUIRE(env.keys->Lookup(k.access_key_id()).status().code() == absl::StatusCode::kNotFound);
}

// Catches: the first-start file written with the umask's mode, in a format the aws CLI cannot
// read, or rewritten (with a new key) on every start.
TEST_CASE("first start writes one key to a 0600 aws credentials file", "[auth]") {
  Env env;
  REQUIRE(env.keys->Load().ok());
  const std::string path = env.dir / "admin-credentials";
  auto first = EnsureFirstAccessKey(*env.keys, path);
  REQUIRE(first.ok());
  REQUIRE(std::regex_match(*first, std::regex("AKIA[A-Z2-7]{16}")));
  REQUIRE(ModeOf(path) == 0600);
  const std::string text = ReadAll(path);
  std::smatch m;
  REQUIRE(std::regex_match(text, m,
                           std::regex("\\[default\\]\naws_access_key_id = (AKIA[A-Z2-7]{16})\n"
                                      "aws_secret_access_key = ([A-Za-z0-9+/]{40})\n")));
  REQUIRE(m[1] == *first);
  REQUIRE(env.keys->Lookup(*first)->secret_access_key == m[2].str());

  auto second = EnsureFirstAccessKey(*env.keys, path);
  REQUIRE(second.ok());
  REQUIRE(second->empty());
  REQUIRE(ReadAll(path) == text);
  REQUIRE(env.keys->size() == 1);
}

}  // namespace
}  // namespace minicloud::controller::auth
