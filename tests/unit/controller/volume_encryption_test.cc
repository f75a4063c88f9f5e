// Encrypted EBS volumes in the controller, over the real store (RocksDB in a temp dir) and a fake
// volume service: data keys made from the injected random source, sealed in the store, handed
// in clear only to the volume service (blank volume) and to the host that attaches the volume;
// snapshots, copies and clones sharing the key; KmsKeyId rules; the key in no log and nowhere
// in clear in the store's files.
#include <spdlog/sinks/ostream_sink.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/escaping.h"
#include "common/ec2_error.h"
#include "common/logging.h"
#include "controller/service/volume_service.h"
#include "tests/testing/volume_fixture.h"

namespace minicloud::controller {
namespace {

// A deterministic random source: bytes counting up from `next` (never all alike).
struct CountingRandom {
  std::shared_ptr<int> next = std::make_shared<int>(1);
  absl::StatusOr<std::string> operator()(size_t n) const {
    std::string out(n, '\0');
    for (auto& c : out) c = static_cast<char>((*next)++ * 37 + 11);
    return out;
  }
};

struct Fixture : testing::VolumeFixture {
  std::unique_ptr<VolumeKeys> keys;  // used by `volumes`: dropped after it (~Fixture)
  std::string image;

  ~Fixture() { volumes.reset(); }
  Fixture() {
    ctl.AddHost("home-1a");
    fleet.Add("home-1a", backend);
    auto box = auth::SecretBox::FromKey(std::string(32, 'm'));
    REQUIRE(box.ok());
    keys = std::make_unique<VolumeKeys>(*box, CountingRandom{});
    OpenVolumes();
    volumes->SetVolumeKeys(keys.get());
    ctl.fleet->SetVolumeKeys(keys.get());
    image = ctl.RegisterImage();
  }
  absl::StatusOr<v1::Volume> Create(bool encrypted, const std::string& kms = "",
                                    const std::string& snapshot = "") {
    v1::CreateVolumeRequest r;
    r.set_availability_zone("home-1a");
    if (snapshot.empty()) r.set_size(8);
    r.set_snapshot_id(snapshot);
    r.set_encrypted(encrypted);
    r.set_kms_key_id(kms);
    return volumes->CreateVolume(r);
  }
  v1::SnapshotRecord SnapRecord(const std::string& id) {
    std::lock_guard<std::mutex> lock(ctl.state->mu());
    return ctl.state->snapshots().at(id);
  }
  std::string Snap(const std::string& volume_id) {
    v1::CreateSnapshotRequest r;
    r.set_volume_id(volume_id);
    auto s = volumes->CreateSnapshot(r);
    REQUIRE(s.ok());
    return s->snapshot_id();
  }
  absl::StatusOr<v1::CopySnapshotResponse> Copy(const std::string& source, bool encrypted,
                                                const std::string& kms = "") {
    v1::CopySnapshotRequest r;
    r.set_source_snapshot_id(source);
    r.set_source_region(ctl.state->config().region);
    r.set_encrypted(encrypted);
    r.set_kms_key_id(kms);
    return volumes->CopySnapshot(r);
  }
  std::string DefaultArn() {
    return DefaultEbsKmsKeyArn(ctl.state->config().region, ctl.state->config().owner_id);
  }
};

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_CASE("Encrypted volume: a sealed random key, the service gets it, describe shows the ARN") {
  // Bugs caught: the key not passed to the volume service (an "encrypted" volume in clear); the
  // key stored in clear in the record; all volumes sharing one key; KmsKeyId not EC2's ARN.
  Fixture f;
  auto v = f.Create(true);
  REQUIRE(v.ok());
  CHECK(v->encrypted());
  CHECK(v->kms_key_id() == f.DefaultArn());
  CHECK(f.DefaultArn().rfind("arn:aws:kms:" + f.ctl.state->config().region + ":", 0) == 0);
  const v1::Volume d = f.DescribeVolume(v->volume_id());
  CHECK(d.state() == v1::VOLUME_STATE_AVAILABLE);
  CHECK(d.encrypted());
  CHECK(d.kms_key_id() == f.DefaultArn());
  const std::string key = f.backend->keys.at(v->volume_id());
  CHECK(key.size() == 64);
  const v1::VolumeRecord r = f.Record(v->volume_id());
  CHECK(r.data_key_id() == v->volume_id());
  CHECK(r.SerializeAsString().find(key) == std::string::npos);
  CHECK(*f.keys->Open(r.sealed_data_key(), r.data_key_id()) == key);
  // Another volume, another key. A plain volume: no key at all.
  auto w = f.Create(true);
  REQUIRE(w.ok());
  CHECK(f.backend->keys.at(w->volume_id()) != key);
  auto plain = f.Create(false);
  REQUIRE(plain.ok());
  CHECK_FALSE(plain->encrypted());
  CHECK(plain->kms_key_id().empty());
  CHECK_FALSE(f.backend->keys.contains(plain->volume_id()));
  CHECK(f.Record(plain->volume_id()).sealed_data_key().empty());
}

TEST_CASE("Encrypted volume: snapshots, copies and clones share the key, stay encrypted") {
  // Bugs caught: a snapshot of an encrypted volume shown unencrypted or losing the key (its
  // clones then unreadable); a clone of an encrypted snapshot created plain; a copy losing it.
  Fixture f;
  auto v = f.Create(true);
  REQUIRE(v.ok());
  const std::string snap = f.Snap(v->volume_id());
  const v1::SnapshotRecord s = f.SnapRecord(snap);
  CHECK(s.encrypted());
  CHECK(s.kms_key_id() == f.DefaultArn());
  CHECK(s.data_key_id() == v->volume_id());
  auto clone = f.Create(false, "", snap);  // not asked: encrypted anyway, as on EC2
  REQUIRE(clone.ok());
  CHECK(clone->encrypted());
  CHECK(clone->kms_key_id() == f.DefaultArn());
  const v1::VolumeRecord c = f.Record(clone->volume_id());
  CHECK(*f.keys->Open(c.sealed_data_key(), c.data_key_id()) == f.backend->keys.at(v->volume_id()));
  CHECK_FALSE(f.backend->keys.contains(clone->volume_id()));  // a clone keeps the header's key
  auto copy = f.Copy(snap, /*encrypted=*/true, "alias/aws/ebs");
  REQUIRE(copy.ok());
  CHECK(f.SnapRecord(copy->snapshot_id()).encrypted());
  CHECK(f.SnapRecord(copy->snapshot_id()).data_key_id() == v->volume_id());
  auto copy_plain_flag = f.Copy(snap, /*encrypted=*/false);
  REQUIRE(copy_plain_flag.ok());
  CHECK(f.SnapRecord(copy_plain_flag->snapshot_id()).encrypted());
}

TEST_CASE("Encrypted volume and copy of a plain snapshot: a key of their own, a full copy") {
  // Bugs caught (one line each): the volume made as a plain clone (no key sent: the service
  // would share clear bytes and call them encrypted); the key of the volume not its own (its
  // data_key_id naming another); the copy keeping the plain source's (empty) key or shown
  // unencrypted; the copy's scratch volume left behind on the service; a volume of the
  // encrypted copy not sharing the copy's key.
  Fixture f;
  auto plain = f.Create(false);
  REQUIRE(plain.ok());
  const std::string plain_snap = f.Snap(plain->volume_id());
  auto v = f.Create(true, "", plain_snap);
  REQUIRE(v.ok());
  CHECK(v->encrypted());
  CHECK(v->kms_key_id() == f.DefaultArn());
  CHECK(f.DescribeVolume(v->volume_id()).state() == v1::VOLUME_STATE_AVAILABLE);
  const v1::VolumeRecord r = f.Record(v->volume_id());
  CHECK(r.data_key_id() == v->volume_id());
  REQUIRE(f.backend->keys.contains(v->volume_id()));
  CHECK(*f.keys->Open(r.sealed_data_key(), r.data_key_id()) == f.backend->keys.at(v->volume_id()));

  auto copy = f.Copy(plain_snap, /*encrypted=*/true);
  REQUIRE(copy.ok());
  const v1::SnapshotRecord c = f.SnapRecord(copy->snapshot_id());
  CHECK(c.state() == v1::SNAPSHOT_STATE_COMPLETED);
  CHECK(c.encrypted());
  CHECK(c.kms_key_id() == f.DefaultArn());
  CHECK(c.data_key_id() == copy->snapshot_id());
  const std::string scratch = "vol-copy-" + copy->snapshot_id();
  REQUIRE(f.backend->keys.contains(scratch));
  CHECK(*f.keys->Open(c.sealed_data_key(), c.data_key_id()) == f.backend->keys.at(scratch));
  CHECK(f.backend->keys.at(scratch) != f.backend->keys.at(v->volume_id()));
  CHECK_FALSE(f.backend->sizes.contains(scratch));
  auto from_copy = f.Create(false, "", copy->snapshot_id());
  REQUIRE(from_copy.ok());
  CHECK(from_copy->encrypted());
  CHECK(f.Record(from_copy->volume_id()).data_key_id() == copy->snapshot_id());
  CHECK_FALSE(f.backend->keys.contains(from_copy->volume_id()));
}

TEST_CASE("Encryption: what EC2 refuses, and what this cloud cannot do") {
  // Bugs caught: KmsKeyId accepted without Encrypted; a customer key silently replaced by the
  // default one; encryption promised by a controller that has no key store.
  Fixture f;
  auto code = [](const absl::Status& s) { return Ec2CodeOf(s); };
  CHECK(code(f.Create(false, "alias/aws/ebs").status()) == "InvalidParameterDependency");
  CHECK(code(f.Create(true, "alias/mine").status()) == "InvalidParameterValue");
  CHECK(code(f.Create(true,
                      "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-"
                      "1234567890ab")
                 .status()) == "InvalidParameterValue");
  const std::string arn = f.DefaultArn();
  for (const std::string& ok : {std::string("alias/aws/ebs"), arn, arn.substr(arn.rfind('/') + 1),
                                arn.substr(0, arn.find(":key/")) + ":alias/aws/ebs"}) {
    INFO(ok);
    auto v = f.Create(true, ok);
    REQUIRE(v.ok());
    CHECK(v->kms_key_id() == arn);
  }
  auto plain = f.Create(false);
  REQUIRE(plain.ok());
  const std::string plain_snap = f.Snap(plain->volume_id());
  CHECK(code(f.Copy(plain_snap, false, "alias/aws/ebs").status()) == "InvalidParameterDependency");
  CHECK(code(f.Copy(plain_snap, true, "alias/mine").status()) == "InvalidParameterValue");
  // A controller without a key store refuses encryption rather than pretending.
  VolumeService no_keys(*f.ctl.state, f.ctl.clock, f.ctl.ids, f.fleet);
  v1::CreateVolumeRequest r;
  r.set_availability_zone("home-1a");
  r.set_size(8);
  r.set_encrypted(true);
  CHECK(code(no_keys.CreateVolume(r).status()) == "UnsupportedOperation");
}

TEST_CASE("Encrypted volume: the attaching host gets the key, logs and store files never do") {
  // Bugs caught: the host's desired disk without the key (the guest could not read the volume);
  // the key written to a log line or in clear into the store's files (RocksDB's WAL/SST).
  std::ostringstream logs;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(logs);
  spdlog::default_logger()->sinks().push_back(sink);
  const auto level = spdlog::default_logger()->level();
  spdlog::default_logger()->set_level(spdlog::level::trace);
  std::string key, db_dir;
  {
    Fixture f;
    db_dir = (f.ctl.dir / "db");
    auto v = f.Create(true);
    REQUIRE(v.ok());
    key = f.backend->keys.at(v->volume_id());
    v1::RunInstancesRequest req = f.ctl.Run(f.image);
    auto run = f.ctl.compute->RunInstances(req);
    REQUIRE(run.ok());
    const std::string inst = run->instances(0).instance_id();
    std::string host;
    {
      std::lock_guard<std::mutex> lock(f.ctl.state->mu());
      host = f.ctl.state->instances().at(inst).host_id();
    }
    REQUIRE(f.ctl.Report(host, inst, v1::OBSERVED_STATE_RUNNING).ok());
    v1::AttachVolumeRequest a;
    a.set_volume_id(v->volume_id());
    a.set_instance_id(inst);
    a.set_device("/dev/sdf");
    REQUIRE(f.volumes->AttachVolume(a).ok());
    v1::WatchDesiredRequest w;
    w.set_host_id(host);
    w.set_known_generation(~uint64_t{0});
    auto d = f.ctl.fleet->WatchDesired(w);
    REQUIRE(d.ok());
    std::string given;
    for (const auto& i : d->instances()) {
      for (const auto& disk : i.ebs_disks()) given = disk.luks_key();
    }
    CHECK(given == key);
    f.Snap(v->volume_id());
    // Every file of the store (WAL, SST, manifest) while it is open, as a thief would copy it.
    REQUIRE(key.size() == 64);
    const std::string key_bytes = absl::HexStringToBytes(key);
    int files = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(db_dir)) {
      if (!e.is_regular_file()) continue;
      ++files;
      const std::string content = ReadAll(e.path());
      INFO(e.path());
      CHECK(content.find(key) == std::string::npos);
      CHECK(content.find(key_bytes) == std::string::npos);
    }
    CHECK(files > 0);
  }
  spdlog::default_logger()->sinks().pop_back();
  spdlog::default_logger()->set_level(level);
  CHECK(logs.str().find(key) == std::string::npos);
  CHECK_FALSE(logs.str().empty());  // the sink did capture the services' log lines
}

TEST_CASE("VolumeKeys: a sealed key opens only for its own origin, errors carry no key") {
  // Bugs caught: the associated data not bound to the origin (a key copied onto another record
  // opens), the key echoed in an error message, DefaultEbsKmsKeyArn unstable.
  auto box = auth::SecretBox::FromKey(std::string(32, 'k'));
  REQUIRE(box.ok());
  VolumeKeys keys(*box, CountingRandom{});
  auto sealed = keys.NewSealedKey("vol-0123456789abcdef0");
  REQUIRE(sealed.ok());
  auto key = keys.Open(*sealed, "vol-0123456789abcdef0");
  REQUIRE(key.ok());
  CHECK(key->size() == 64);
  CHECK(sealed->find(*key) == std::string::npos);
  auto other = keys.Open(*sealed, "vol-0123456789abcdef1");
  REQUIRE_FALSE(other.ok());
  CHECK(std::string(other.status().message()).find(*key) == std::string::npos);
  CHECK(DefaultEbsKmsKeyArn("home-1", "123456789012") ==
        DefaultEbsKmsKeyArn("home-1", "123456789012"));
  CHECK(DefaultEbsKmsKeyArn("home-1", "123456789012") !=
        DefaultEbsKmsKeyArn("home-2", "123456789012"));
}

}  // namespace
}  // namespace minicloud::controller
