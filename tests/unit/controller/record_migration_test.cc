// Records written before the metadata options and placement strategies were typed enums, and
// before identity documents were built from the record's fields, still load: MigrateRecord on
// hand-encoded old bytes, and whole state directories through RocksDB and a controller restart.
#include "controller/service/record_migration.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <catch2/catch.hpp>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_replace.h"
#include "common/ec2_error.h"
#include "controller/identity/identity_signer.h"
#include "controller/service/identity_document.h"
#include "tests/testing/controller_fixture.h"

namespace minicloud::controller {
namespace {

using google::protobuf::io::CodedOutputStream;
using google::protobuf::io::StringOutputStream;

// Length-delimited fields (number, bytes) in wire format, as the old protos wrote them.
std::string Encode(const std::vector<std::pair<int, std::string>>& fields) {
  std::string out;
  {
    StringOutputStream stream(&out);
    CodedOutputStream coded(&stream);
    for (const auto& [number, bytes] : fields) {
      coded.WriteTag(static_cast<uint32_t>(number << 3 | 2));  // wire type 2: length-delimited
      coded.WriteVarint32(static_cast<uint32_t>(bytes.size()));
      coded.WriteString(bytes);
    }
  }
  return out;
}

// The old InstanceMetadataOptions: 1 http_tokens, 2 http_endpoint, 4 instance_metadata_tags,
// 5 http_protocol_ipv6, 6 state (strings) and 3 the hop limit (varint, unchanged).
std::string OldOptions(const std::string& tokens, const std::string& endpoint,
                       const std::string& tags, int hop) {
  std::string o = Encode({{1, tokens}, {2, endpoint}, {4, tags}, {5, "disabled"}, {6, "applied"}});
  o.push_back(static_cast<char>(3 << 3));  // field 3, varint
  o.push_back(static_cast<char>(hop));
  return o;
}

// An instance record as the old controller stored it: the current fields it shares with the
// old shape, and field 30 holding the string options.
std::string OldInstanceRecord(const v1::InstanceRecord& shared, const std::string& options) {
  v1::InstanceRecord without = shared;
  without.clear_metadata_options();
  return without.SerializeAsString() + Encode({{30, options}});
}

}  // namespace

TEST_CASE("MigrateRecord: metadata options stored as strings become the typed enums",
          "[controller][migration]") {
  struct Row {
    const char* name;
    std::string tokens, endpoint, tags;
    v1::HttpTokens want_tokens;
    v1::HttpEndpoint want_endpoint;
    v1::InstanceMetadataTags want_tags;
  };
  // Each row catches a swapped or dropped mapping in the migration.
  const Row rows[] = {
      {"required / disabled / enabled", "required", "disabled", "enabled", v1::HTTP_TOKENS_REQUIRED,
       v1::HTTP_ENDPOINT_DISABLED, v1::INSTANCE_METADATA_TAGS_ENABLED},
      {"optional / enabled / disabled", "optional", "enabled", "disabled", v1::HTTP_TOKENS_OPTIONAL,
       v1::HTTP_ENDPOINT_ENABLED, v1::INSTANCE_METADATA_TAGS_DISABLED},
      {"empty strings stay UNSPECIFIED (the guest view defaults them)", "", "", "",
       v1::HTTP_TOKENS_UNSPECIFIED, v1::HTTP_ENDPOINT_UNSPECIFIED,
       v1::INSTANCE_METADATA_TAGS_UNSPECIFIED},
  };
  v1::InstanceRecord shared;
  shared.set_instance_id("i-00000000000000001");
  shared.set_key_name("laptop");
  for (const Row& row : rows) {
    INFO(row.name);
    const std::string stored =
        OldInstanceRecord(shared, OldOptions(row.tokens, row.endpoint, row.tags, 7));
    v1::InstanceRecord r;
    REQUIRE(r.ParseFromString(stored));
    REQUIRE(MigrateRecord(stored, r).ok());
    CHECK(r.metadata_options().http_tokens() == row.want_tokens);
    CHECK(r.metadata_options().http_endpoint() == row.want_endpoint);
    CHECK(r.metadata_options().instance_metadata_tags() == row.want_tags);
    CHECK(r.metadata_options().http_protocol_ipv6() == v1::HTTP_PROTOCOL_IPV6_DISABLED);
    CHECK(r.metadata_options().state() == v1::METADATA_OPTIONS_STATE_APPLIED);
    CHECK(r.metadata_options().http_put_response_hop_limit() == 7);
    CHECK(r.key_name() == "laptop");
    // The strings do not linger as unknown fields to be written back.
    CHECK(r.metadata_options().GetReflection()->GetUnknownFields(r.metadata_options()).empty());
  }

  SECTION("a current record is left alone") {
    v1::InstanceRecord r = shared;
    r.mutable_metadata_options()->set_http_tokens(v1::HTTP_TOKENS_REQUIRED);
    const std::string stored = r.SerializeAsString();
    REQUIRE(MigrateRecord(stored, r).ok());
    CHECK(r.SerializeAsString() == stored);
  }
  SECTION("a legacy value that is not an EC2 name is refused, not guessed") {
    const std::string stored = OldInstanceRecord(shared, OldOptions("REQUIRED", "", "", 1));
    v1::InstanceRecord r;
    REQUIRE(r.ParseFromString(stored));
    const absl::Status s = MigrateRecord(stored, r);
    CHECK(s.code() == absl::StatusCode::kDataLoss);
    CHECK_THAT(std::string(s.message()), Catch::Matchers::Contains("REQUIRED"));
  }
}

TEST_CASE("MigrateRecord: a placement group's strategy and spread level as strings",
          "[controller][migration]") {
  struct Row {
    std::string strategy, level;
    v1::PlacementStrategy want_strategy;
    v1::SpreadLevel want_level;
  };
  const Row rows[] = {
      {"spread", "host", v1::PLACEMENT_STRATEGY_SPREAD, v1::SPREAD_LEVEL_HOST},
      {"spread", "rack", v1::PLACEMENT_STRATEGY_SPREAD, v1::SPREAD_LEVEL_RACK},
      {"partition", "", v1::PLACEMENT_STRATEGY_PARTITION, v1::SPREAD_LEVEL_UNSPECIFIED},
      {"cluster", "", v1::PLACEMENT_STRATEGY_CLUSTER, v1::SPREAD_LEVEL_UNSPECIFIED},
  };
  for (const Row& row : rows) {
    INFO(row.strategy << "/" << row.level);
    v1::PlacementGroupRecord r;
    r.set_group_name("g");
    r.set_legacy_strategy(row.strategy);
    r.set_legacy_spread_level(row.level);
    REQUIRE(MigrateRecord(r.SerializeAsString(), r).ok());
    CHECK(r.strategy() == row.want_strategy);
    CHECK(r.spread_level() == row.want_level);
    CHECK(r.legacy_strategy().empty());
  }
  v1::PlacementGroupRecord bad;
  bad.set_legacy_strategy("ring");
  CHECK(MigrateRecord(bad.SerializeAsString(), bad).code() == absl::StatusCode::kDataLoss);
}

TEST_CASE("a state directory written with string options loads and serves the same options",
          "[controller][migration]") {
  testing::ControllerFixture f;
  const std::string host = f.AddHost();
  const std::string image = f.RegisterImage();
  auto res = f.compute->RunInstances(f.Run(image));
  REQUIRE(res.ok());
  const std::string id = res->instances(0).instance_id();
  v1::CreatePlacementGroupRequest pg;
  pg.set_group_name("web");
  pg.set_strategy(v1::PLACEMENT_STRATEGY_SPREAD);
  pg.set_spread_level(v1::SPREAD_LEVEL_HOST);
  REQUIRE(f.groups->CreatePlacementGroup(pg).ok());

  // Rewrite both records in the old form, as the previous controller left them on disk.
  v1::InstanceRecord instance;
  v1::PlacementGroupRecord group;
  {
    std::lock_guard<std::mutex> lock(f.state->mu());
    instance = f.state->instances().at(id);
    group = f.state->placement_groups().at("web");
  }
  group.clear_strategy();
  group.clear_spread_level();
  group.set_legacy_strategy("spread");
  group.set_legacy_spread_level("host");
  WriteBatch batch;
  batch.Put(Table::kInstances, id,
            OldInstanceRecord(instance, OldOptions("required", "enabled", "enabled", 4)));
  batch.Put(Table::kPlacementGroups, "web", group.SerializeAsString());
  REQUIRE(f.store->Commit(batch).ok());

  f.Reopen();  // a controller restart on the old state
  const v1::Instance described = f.Describe(id);
  CHECK(described.metadata_options().http_tokens() == v1::HTTP_TOKENS_REQUIRED);
  CHECK(described.metadata_options().instance_metadata_tags() ==
        v1::INSTANCE_METADATA_TAGS_ENABLED);
  CHECK(described.metadata_options().http_put_response_hop_limit() == 4);
  auto groups = f.groups->DescribePlacementGroups({});
  REQUIRE(groups.ok());
  REQUIRE(groups->placement_groups_size() == 1);
  CHECK(groups->placement_groups(0).strategy() == v1::PLACEMENT_STRATEGY_SPREAD);
  CHECK(groups->placement_groups(0).spread_level() == v1::SPREAD_LEVEL_HOST);

  v1::WatchDesiredRequest req;
  req.set_host_id(host);
  auto d = f.fleet->WatchDesired(req);
  REQUIRE(d.ok());
  REQUIRE(d->instances_size() == 1);
  CHECK(d->instances(0).metadata().http_tokens() == v1::HTTP_TOKENS_REQUIRED);
  CHECK(d->instances(0).metadata().hop_limit() == 4);

  // A change writes the record back in the current form; it still reads the same after that.
  v1::ModifyInstanceMetadataOptionsRequest mod;
  mod.set_instance_id(id);
  mod.mutable_options()->set_http_endpoint(v1::HTTP_ENDPOINT_DISABLED);
  REQUIRE(f.compute->ModifyInstanceMetadataOptions(mod).ok());
  f.Reopen();
  const v1::Instance after = f.Describe(id);
  CHECK(after.metadata_options().http_tokens() == v1::HTTP_TOKENS_REQUIRED);
  CHECK(after.metadata_options().http_endpoint() == v1::HTTP_ENDPOINT_DISABLED);
}

namespace {

// An instance record as versions before identity_pending_time_ms wrote it: the document's text
// in the record, built from its fields at launch.
v1::InstanceRecord WithStoredDocument(int64_t pending_ms) {
  v1::InstanceRecord r;
  r.set_instance_id("i-0000000000000000a");
  r.set_owner_id("123456789012");
  r.set_image_id("ami-0000000000000000c");
  r.set_instance_type("t3.micro");
  r.mutable_topology()->set_region("home-1");
  r.mutable_topology()->set_availability_zone("home-1a");
  r.mutable_network()->set_private_ip("172.31.0.9");
  r.set_launch_time_ms(pending_ms);
  v1::InstanceRecord fields = r;
  fields.set_identity_pending_time_ms(pending_ms);
  r.set_identity_document(IdentityDocumentFromFields(fields));
  return r;
}

}  // namespace

TEST_CASE("MigrateRecord: a stored identity document becomes the fields it is built from",
          "[controller][migration][identity]") {
  const int64_t launched = 1'700'000'123'456;
  v1::InstanceRecord r = WithStoredDocument(launched);
  const std::string text = r.identity_document();
  REQUIRE_FALSE(text.empty());

  SECTION("the fields give the same bytes: the text goes, the document stays") {
    // Catches: the pending time taken from launch_time_ms (a start moved it), and the text
    // kept (the record stays ~470 bytes larger in every write).
    r.set_launch_time_ms(launched + 86'400'000);  // started again a day later
    REQUIRE(MigrateRecord(r.SerializeAsString(), r).ok());
    CHECK(r.identity_document().empty());
    CHECK(r.identity_pending_time_ms() == 1'700'000'123'000);  // the text's, to the second
    CHECK(IdentityDocumentOf(r) == text);
  }
  SECTION("a text the fields do not build stays, served as stored") {
    // Catches: the text dropped without comparing (the guest's document, and the signatures
    // agents hold, would change under it).
    v1::InstanceRecord other = r;
    other.set_instance_type("t3.large");  // the record changed since the text was built
    REQUIRE(MigrateRecord(other.SerializeAsString(), other).ok());
    CHECK(other.identity_document() == text);
    CHECK(IdentityDocumentOf(other) == text);
  }
  SECTION("a text without a pendingTime stays") {
    r.set_identity_document("{\"instanceId\" : \"i-0000000000000000a\"}");
    REQUIRE(MigrateRecord(r.SerializeAsString(), r).ok());
    CHECK(IdentityDocumentOf(r) == "{\"instanceId\" : \"i-0000000000000000a\"}");
    CHECK(r.identity_pending_time_ms() == 0);
  }
  SECTION("a current record is left alone") {
    v1::InstanceRecord current = r;
    current.clear_identity_document();
    current.set_identity_pending_time_ms(launched);
    const std::string stored = current.SerializeAsString();
    REQUIRE(MigrateRecord(stored, current).ok());
    CHECK(current.SerializeAsString() == stored);
  }
}

TEST_CASE("a state directory with identity document texts delivers the same signed bytes",
          "[controller][migration][identity]") {
  testing::ControllerFixture f;
  const std::string host = f.AddHost();
  const std::string image = f.RegisterImage();
  auto res = f.compute->RunInstances(f.Run(image, 2));
  REQUIRE(res.ok());
  const std::string a = res->instances(0).instance_id();
  const std::string b = res->instances(1).instance_id();
  auto deliver = [&] {
    v1::WatchDesiredRequest w;
    w.set_host_id(host);
    auto d = f.fleet->WatchDesired(w);
    REQUIRE(d.ok());
    std::map<std::string, v1::GuestMetadata> out;
    for (const auto& di : d->instances()) out[di.instance_id()] = di.metadata();
    return out;
  };
  const auto before = deliver();

  // Rewrite both records as the previous version left them: `a` with the text its fields build,
  // `b` with a text they do not build (here: another instance type in it).
  v1::InstanceRecord ra, rb;
  {
    std::lock_guard<std::mutex> lock(f.state->mu());
    ra = f.state->instances().at(a);
    rb = f.state->instances().at(b);
  }
  ra.set_identity_document(before.at(a).identity_document());
  ra.clear_identity_pending_time_ms();
  const std::string pinned = absl::StrReplaceAll(
      IdentityDocumentOf(rb), {{"\"instanceType\" : \"", "\"instanceType\" : \"x"}});
  REQUIRE(pinned != IdentityDocumentOf(rb));
  rb.set_identity_document(pinned);
  rb.clear_identity_pending_time_ms();
  WriteBatch batch;
  batch.Put(Table::kInstances, a, ra.SerializeAsString());
  batch.Put(Table::kInstances, b, rb.SerializeAsString());
  REQUIRE(f.store->Commit(batch).ok());

  f.Reopen();  // a controller restart on the old state: nothing signed is cached
  const auto after = deliver();
  // Catches: a migrated record delivering another document or other signature bytes than the
  // agent already holds.
  CHECK(after.at(a).identity_document() == before.at(a).identity_document());
  CHECK(after.at(a).identity_signature() == before.at(a).identity_signature());
  CHECK(after.at(a).identity_pkcs7() == before.at(a).identity_pkcs7());
  // Catches: a stored text replaced by the fields' document.
  CHECK(after.at(b).identity_document() == pinned);
  CHECK(identity::VerifyIdentitySignature(pinned, after.at(b).identity_signature(),
                                          f.signer->certificate_pem())
            .ok());
  {
    std::lock_guard<std::mutex> lock(f.state->mu());
    CHECK(f.state->instances().at(a).identity_document().empty());
    CHECK(f.state->instances().at(b).identity_document() == pinned);
  }

  // The next change writes `a` back in the current shape: no text on disk.
  v1::ModifyInstanceMetadataOptionsRequest mod;
  mod.set_instance_id(a);
  mod.mutable_options()->set_http_endpoint(v1::HTTP_ENDPOINT_DISABLED);
  REQUIRE(f.compute->ModifyInstanceMetadataOptions(mod).ok());
  auto stored = f.store->Get(Table::kInstances, a);
  REQUIRE(stored.ok());
  REQUIRE(stored->has_value());
  v1::InstanceRecord on_disk;
  REQUIRE(on_disk.ParseFromString(**stored));
  CHECK(on_disk.identity_document().empty());
  CHECK(on_disk.identity_pending_time_ms() != 0);
  f.Reopen();
  CHECK(deliver().at(a).identity_pkcs7() == before.at(a).identity_pkcs7());
}

}  // namespace minicloud::controller
