// Tags through TagService and the Describe calls of every taggable resource, over a real
// RocksDB store: EC2's limits and error codes, DeleteTags with and without a value, the tag
// filters each Describe shares, TagSpecification on create, and what a restart keeps.
//
// Bugs these would catch (one line each): a CreateTags that stages half of a call when a later
// resource is unknown; the 50-tag limit counted on the request instead of the merged set;
// DeleteTags ignoring the value (or treating "" as "any value"); tag:<Key> matching a key glob
// or any key; a Describe that forgot the tag filters (InvalidParameterValue for tag-key);
// tags not persisted (gone after Reopen); DescribeTags pages that repeat or skip a tag.
#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/ec2_error.h"
#include "tests/testing/controller_fixture.h"

namespace minicloud::controller {
namespace {

using testing::ControllerFixture;

v1::Tag T(const std::string& k, const std::string& v) {
  v1::Tag t;
  t.set_key(k);
  t.set_value(v);
  return t;
}

v1::Filter F(const std::string& name, std::vector<std::string> values) {
  v1::Filter f;
  f.set_name(name);
  for (auto& v : values) f.add_values(v);
  return f;
}

std::map<std::string, std::string> AsMap(const google::protobuf::RepeatedPtrField<v1::Tag>& tags) {
  std::map<std::string, std::string> m;
  for (const auto& t : tags) m[t.key()] = t.value();
  return m;
}

// One resource of each kind.
struct Resources {
  ControllerFixture f;
  std::string host = f.AddHost();
  std::string image = f.RegisterImage();
  std::string instance;
  std::string key_pair;
  std::string group;

  Resources() {
    auto run = f.compute->RunInstances(f.Run(image));
    REQUIRE(run.ok());
    instance = run->instances(0).instance_id();
    v1::CreateKeyPairRequest k;
    k.set_key_name("k1");
    k.set_key_type("ed25519");
    auto key = f.key_pairs->CreateKeyPair(k);
    REQUIRE(key.ok());
    key_pair = key->key_pair().key_pair_id();
    v1::CreatePlacementGroupRequest g;
    g.set_group_name("g1");
    g.set_strategy(v1::PLACEMENT_STRATEGY_SPREAD);
    auto pg = f.groups->CreatePlacementGroup(g);
    REQUIRE(pg.ok());
    group = pg->placement_group().group_id();
  }

  absl::Status Create(std::vector<std::string> ids, std::vector<v1::Tag> tags) {
    v1::CreateTagsRequest req;
    for (auto& id : ids) req.add_resources(id);
    for (auto& t : tags) *req.add_tags() = t;
    return f.tags->CreateTags(req).status();
  }

  // The tags each Describe shows for the resource.
  std::map<std::string, std::string> TagsOf(const std::string& id) {
    if (id == instance) return AsMap(f.Describe(id).tags());
    if (id == image) {
      v1::DescribeImagesRequest req;
      req.add_image_ids(id);
      return AsMap(f.images->DescribeImages(req)->images(0).tags());
    }
    if (id == key_pair) {
      v1::DescribeKeyPairsRequest req;
      req.add_key_pair_ids(id);
      return AsMap(f.key_pairs->DescribeKeyPairs(req)->key_pairs(0).tags());
    }
    v1::DescribePlacementGroupsRequest req;
    req.add_group_ids(id);
    return AsMap(f.groups->DescribePlacementGroups(req)->placement_groups(0).tags());
  }
  std::vector<std::string> All() const { return {instance, image, key_pair, group}; }
};

}  // namespace

TEST_CASE("CreateTags tags every kind of resource, shown by its Describe", "[tags]") {
  Resources r;
  REQUIRE(r.Create(r.All(), {T("Name", "web"), T("env", "")}).ok());
  for (const auto& id : r.All()) {
    INFO(id);
    REQUIRE(r.TagsOf(id) == std::map<std::string, std::string>{{"Name", "web"}, {"env", ""}});
  }
  // Overwriting a key changes its value and keeps the others.
  REQUIRE(r.Create({r.key_pair}, {T("Name", "db")}).ok());
  REQUIRE(r.TagsOf(r.key_pair) == std::map<std::string, std::string>{{"Name", "db"}, {"env", ""}});
  // A restarted controller still has them (records in RocksDB).
  r.f.Reopen();
  for (const auto& id : r.All()) REQUIRE(r.TagsOf(id).size() == 2);
}

TEST_CASE("CreateTags errors are EC2's, and a refused call changes nothing", "[tags]") {
  Resources r;
  std::vector<v1::Tag> fifty;
  for (int i = 0; i < 50; ++i) fifty.push_back(T("k" + std::to_string(i), "v"));
  std::vector<v1::Tag> fifty_one = fifty;
  fifty_one.push_back(T("extra", "v"));
  struct Case {
    std::string name;
    std::vector<std::string> ids;
    std::vector<v1::Tag> tags;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"unknown id shape", {"foo-1234"}, {T("a", "b")}, "InvalidID"},
      {"a kind we do not have", {"snap-0123456789abcdef0"}, {T("a", "b")}, "InvalidID"},
      {"unknown volume", {"vol-0123456789abcdef0"}, {T("a", "b")}, "InvalidVolume.NotFound"},
      {"unknown instance", {"i-0123456789abcdef0"}, {T("a", "b")}, "InvalidInstanceID.NotFound"},
      {"unknown image", {"ami-0123456789abcdef0"}, {T("a", "b")}, "InvalidAMIID.NotFound"},
      {"unknown key pair", {"key-0123456789abcdef0"}, {T("a", "b")}, "InvalidKeyPair.NotFound"},
      {"unknown group", {"pg-0123456789abcdef0"}, {T("a", "b")}, "InvalidPlacementGroup.Unknown"},
      {"aws: prefix", {r.instance}, {T("aws:owner", "x")}, "InvalidParameterValue"},
      {"AWS: prefix in any case", {r.instance}, {T("AwS:x", "x")}, "InvalidParameterValue"},
      {"key of 129 characters",
       {r.instance},
       {T(std::string(129, 'k'), "")},
       "InvalidParameterValue"},
      {"value of 257 characters",
       {r.instance},
       {T("k", std::string(257, 'v'))},
       "InvalidParameterValue"},
      {"empty key", {r.instance}, {T("", "v")}, "InvalidParameterValue"},
      {"51 tags", {r.instance}, fifty_one, "TagLimitExceeded"},
      {"no tags", {r.instance}, {}, "MissingParameter"},
      {"no resources", {}, {T("a", "b")}, "MissingParameter"},
      // The known resources before the unknown one must not be tagged either.
      {"one unknown among known",
       {r.instance, r.image, "ami-0123456789abcdef0"},
       {T("a", "b")},
       "InvalidAMIID.NotFound"},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      absl::Status s = r.Create(c.ids, c.tags);
      REQUIRE(Ec2CodeOf(s) == c.code);
      for (const auto& id : r.All()) REQUIRE(r.TagsOf(id).empty());
    }
  }
  SECTION("limits at the edge are accepted") {
    REQUIRE(r.Create({r.instance}, {T(std::string(128, 'k'), std::string(256, 'v'))}).ok());
  }
  SECTION("the limit counts the tags the resource would end with") {
    REQUIRE(r.Create({r.image}, fifty).ok());
    REQUIRE(r.Create({r.image}, {T("k0", "overwritten")}).ok());  // still 50
    REQUIRE(Ec2CodeOf(r.Create({r.image}, {T("one-more", "v")})) == "TagLimitExceeded");
    REQUIRE(r.TagsOf(r.image).size() == 50);
  }
  SECTION("an instance serving its tags in metadata takes only servable keys") {
    v1::ModifyInstanceMetadataOptionsRequest m;
    m.set_instance_id(r.instance);
    m.mutable_options()->set_instance_metadata_tags(v1::INSTANCE_METADATA_TAGS_ENABLED);
    REQUIRE(r.f.compute->ModifyInstanceMetadataOptions(m).ok());
    REQUIRE(Ec2CodeOf(r.Create({r.instance}, {T("has space", "v")})) == "InvalidParameterValue");
    REQUIRE(r.Create({r.image}, {T("has space", "v")}).ok());  // images have no such rule
  }
  SECTION("DryRun checks and changes nothing") {
    v1::CreateTagsRequest req;
    req.add_resources(r.instance);
    *req.add_tags() = T("a", "b");
    req.set_dry_run(true);
    REQUIRE(Ec2CodeOf(r.f.tags->CreateTags(req).status()) == "DryRunOperation");
    REQUIRE(r.TagsOf(r.instance).empty());
  }
}

TEST_CASE("tagging an instance re-sends its host's desired state", "[tags]") {
  Resources r;
  uint64_t before = 0;
  {
    std::lock_guard<std::mutex> lock(r.f.state->mu());
    before = r.f.state->GenerationLocked(r.host);
  }
  REQUIRE(r.Create({r.instance}, {T("Name", "web")}).ok());
  std::lock_guard<std::mutex> lock(r.f.state->mu());
  REQUIRE(r.f.state->GenerationLocked(r.host) > before);
}

TEST_CASE("DeleteTags with and without a value", "[tags]") {
  Resources r;
  REQUIRE(r.Create(r.All(), {T("a", "1"), T("b", ""), T("c", "3")}).ok());
  auto del = [&](const std::string& id, std::vector<std::pair<std::string, const char*>> tags) {
    v1::DeleteTagsRequest req;
    req.add_resources(id);
    for (auto& [k, v] : tags) {
      auto* t = req.add_tags();
      t->set_key(k);
      if (v != nullptr) t->set_value(v);
    }
    return r.f.tags->DeleteTags(req).status();
  };
  using M = std::map<std::string, std::string>;
  SECTION("key only: whatever the value") {
    REQUIRE(del(r.instance, {{"a", nullptr}}).ok());
    REQUIRE(r.TagsOf(r.instance) == M{{"b", ""}, {"c", "3"}});
  }
  SECTION("key and value: only when it matches") {
    REQUIRE(del(r.image, {{"a", "2"}, {"c", "3"}}).ok());
    REQUIRE(r.TagsOf(r.image) == M{{"a", "1"}, {"b", ""}});
  }
  SECTION("an empty value deletes only an empty-valued tag") {
    REQUIRE(del(r.key_pair, {{"a", ""}, {"b", ""}}).ok());
    REQUIRE(r.TagsOf(r.key_pair) == M{{"a", "1"}, {"c", "3"}});
  }
  SECTION("no tags: every tag of the resource") {
    REQUIRE(del(r.group, {}).ok());
    REQUIRE(r.TagsOf(r.group).empty());
    REQUIRE(r.TagsOf(r.instance).size() == 3);
  }
  SECTION("a key the resource does not have is no error") {
    REQUIRE(del(r.instance, {{"zzz", nullptr}}).ok());
    REQUIRE(r.TagsOf(r.instance).size() == 3);
  }
  SECTION("unknown resource") {
    REQUIRE(Ec2CodeOf(del("i-0123456789abcdef0", {{"a", nullptr}})) ==
            "InvalidInstanceID.NotFound");
  }
}

TEST_CASE("DescribeTags filters and pages", "[tags]") {
  Resources r;
  REQUIRE(r.Create({r.instance, r.image}, {T("Name", "web"), T("env", "prod")}).ok());
  REQUIRE(r.Create({r.key_pair}, {T("Name", "db")}).ok());
  auto describe = [&](std::vector<v1::Filter> filters) {
    v1::DescribeTagsRequest req;
    for (auto& f : filters) *req.add_filters() = f;
    auto resp = r.f.tags->DescribeTags(req);
    REQUIRE(resp.ok());
    std::vector<std::string> rows;
    for (const auto& t : resp->tags()) {
      rows.push_back(t.resource_id() + "/" + t.resource_type() + "/" + t.key() + "=" + t.value());
    }
    return rows;
  };
  REQUIRE(describe({}).size() == 5);
  REQUIRE(describe({F("key", {"Name"})}).size() == 3);
  REQUIRE(describe({F("value", {"d*"})}) ==
          std::vector<std::string>{r.key_pair + "/key-pair/Name=db"});
  REQUIRE(describe({F("resource-type", {"image"})}) ==
          std::vector<std::string>{r.image + "/image/Name=web", r.image + "/image/env=prod"});
  REQUIRE(describe({F("resource-id", {r.instance}), F("key", {"env"})}) ==
          std::vector<std::string>{r.instance + "/instance/env=prod"});
  // tag:<Key>: the resources that have the tag; all their tags are listed.
  REQUIRE(describe({F("tag:Name", {"web"})}).size() == 4);
  REQUIRE(describe({F("tag:Nam*", {"web"})}).empty());  // the key is not a glob

  v1::DescribeTagsRequest bad;
  *bad.add_filters() = F("tag-key", {"Name"});
  REQUIRE(Ec2CodeOf(r.f.tags->DescribeTags(bad).status()) == "InvalidParameterValue");

  SECTION("pages of 5 cover every tag once, in order") {
    std::vector<v1::Tag> many;
    for (int i = 0; i < 10; ++i) many.push_back(T("k" + std::to_string(i), "v"));
    REQUIRE(r.Create({r.group}, many).ok());  // 15 tags in all
    std::vector<std::string> seen;
    std::string token;
    int pages = 0;
    do {
      v1::DescribeTagsRequest req;
      req.set_max_results(5);
      req.set_next_token(token);
      auto resp = r.f.tags->DescribeTags(req);
      REQUIRE(resp.ok());
      REQUIRE(resp->tags_size() <= 5);
      for (const auto& t : resp->tags()) seen.push_back(t.resource_id() + "/" + t.key());
      token = resp->next_token();
      ++pages;
    } while (!token.empty());
    REQUIRE(pages == 3);
    REQUIRE(seen.size() == 15);
    REQUIRE(std::set<std::string>(seen.begin(), seen.end()).size() == 15);
    REQUIRE(std::is_sorted(seen.begin(), seen.end()));
  }
  SECTION("MaxResults bounds and foreign tokens") {
    v1::DescribeTagsRequest req;
    req.set_max_results(4);
    REQUIRE(Ec2CodeOf(r.f.tags->DescribeTags(req).status()) == "InvalidParameterValue");
    req.set_max_results(1001);
    REQUIRE(Ec2CodeOf(r.f.tags->DescribeTags(req).status()) == "InvalidParameterValue");
    req.set_max_results(5);
    req.set_next_token("not-a-token");
    REQUIRE(Ec2CodeOf(r.f.tags->DescribeTags(req).status()) == "InvalidPaginationToken");
  }
}

TEST_CASE("every Describe of a taggable resource takes the same tag filters", "[tags][filters]") {
  Resources r;
  REQUIRE(r.Create(r.All(), {T("team", "blue")}).ok());
  struct Case {
    v1::Filter filter;
    bool matches;
  };
  const std::vector<Case> cases = {
      {F("tag:team", {"blue"}), true},  {F("tag:team", {"bl*"}), true},
      {F("tag:team", {"red"}), false},  {F("tag:other", {"blue"}), false},
      {F("tag-key", {"team"}), true},   {F("tag-key", {"nope"}), false},
      {F("tag-value", {"blue"}), true}, {F("tag-value", {"red", "b?ue"}), true},
      {F("tag-value", {"red"}), false},
  };
  for (const auto& c : cases) {
    INFO(c.filter.name() << "=" << c.filter.values(0));
    const size_t want = c.matches ? 1 : 0;
    v1::DescribeInstancesRequest di;
    *di.add_filters() = c.filter;
    auto inst = r.f.compute->DescribeInstances(di);
    REQUIRE(inst.ok());
    REQUIRE(static_cast<size_t>(inst->reservations_size()) == want);
    v1::DescribeImagesRequest im;
    *im.add_filters() = c.filter;
    REQUIRE(static_cast<size_t>(r.f.images->DescribeImages(im)->images_size()) == want);
    v1::DescribeKeyPairsRequest kp;
    *kp.add_filters() = c.filter;
    REQUIRE(static_cast<size_t>(r.f.key_pairs->DescribeKeyPairs(kp)->key_pairs_size()) == want);
    v1::DescribePlacementGroupsRequest pg;
    *pg.add_filters() = c.filter;
    REQUIRE(static_cast<size_t>(r.f.groups->DescribePlacementGroups(pg)->placement_groups_size()) ==
            want);
  }
  v1::DescribeKeyPairsRequest kp;
  *kp.add_filters() = F("no-such-filter", {"x"});
  REQUIRE(Ec2CodeOf(r.f.key_pairs->DescribeKeyPairs(kp).status()) == "InvalidParameterValue");
}

TEST_CASE("TagSpecification on create: key pairs, placement groups, images", "[tags]") {
  ControllerFixture f;
  v1::CreateKeyPairRequest k;
  k.set_key_name("tagged");
  k.set_key_type("ed25519");
  *k.add_tags() = T("Name", "mine");
  auto key = f.key_pairs->CreateKeyPair(k);
  REQUIRE(key.ok());
  REQUIRE(AsMap(key->key_pair().tags()) == std::map<std::string, std::string>{{"Name", "mine"}});

  v1::CreatePlacementGroupRequest g;
  g.set_group_name("tagged");
  g.set_strategy(v1::PLACEMENT_STRATEGY_CLUSTER);
  *g.add_tags() = T("Name", "pg");
  auto pg = f.groups->CreatePlacementGroup(g);
  REQUIRE(pg.ok());
  REQUIRE(AsMap(pg->placement_group().tags()).at("Name") == "pg");

  SECTION("a refused tag creates nothing") {
    v1::CreateKeyPairRequest bad = k;
    bad.set_key_name("other");
    *bad.add_tags() = T("aws:x", "y");
    REQUIRE(Ec2CodeOf(f.key_pairs->CreateKeyPair(bad).status()) == "InvalidParameterValue");
    REQUIRE(f.key_pairs->DescribeKeyPairs({})->key_pairs_size() == 1);
    v1::CreatePlacementGroupRequest bad_group = g;
    bad_group.set_group_name("other");
    *bad_group.add_tags() = T("Name", "duplicate key");
    REQUIRE(Ec2CodeOf(f.groups->CreatePlacementGroup(bad_group).status()) ==
            "InvalidParameterValue");
    REQUIRE(f.groups->DescribePlacementGroups({})->placement_groups_size() == 1);
  }
  SECTION("an image registered with tags") {
    const std::string image = f.RegisterImage("plain");
    v1::DescribeImagesRequest req;
    req.add_image_ids(image);
    REQUIRE(f.images->DescribeImages(req)->images(0).tags_size() == 0);
    v1::RegisterImageRequest reg;
    reg.set_name("tagged-image");
    *reg.add_tags() = T("os", "debian");
    std::string file = f.dir / "t.qcow2";
    REQUIRE(std::system(("qemu-img create -q -f qcow2 " + file + " 64M").c_str()) == 0);
    auto done = testing::UploadImage(*f.images, reg, testing::ReadFileBytes(file));
    REQUIRE(done.ok());
    v1::DescribeImagesRequest d;
    *d.add_filters() = F("tag:os", {"debian"});
    auto found = f.images->DescribeImages(d);
    REQUIRE(found->images_size() == 1);
    REQUIRE(found->images(0).image_id() == done->image_id());
  }
}

}  // namespace minicloud::controller
