// Saving a guest with encrypted disks over QMP (agent/hypervisor/qmp_save.h): the file header,
// the slots read from query-pci, the migration status, and the domain XML of a restore.
// Table-driven; each case says the one-line bug it catches.
#include "agent/hypervisor/qmp_save.h"

#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/match.h"
#include "agent/hypervisor/domain_xml.h"
#include "tests/unit/hypervisor/spec_builder.h"

namespace minicloud::hypervisor {
namespace {

using nlohmann::json;

TEST_CASE("qmp save header: round trip, fixed size", "[qmp_save]") {
  const QmpSaveHeader h{.ebs_slots = {{"vda", 31}, {"vdf", 30}, {"vdz", 8}}};
  absl::StatusOr<std::string> bytes = EncodeQmpSaveHeader(h);
  REQUIRE(bytes.ok());
  // Bug: a header of varying size (the stream would start at a different offset).
  CHECK(bytes->size() == kQmpSaveHeaderBytes);
  // Bug: a slot or target lost or changed on the way.
  absl::StatusOr<QmpSaveHeader> back = DecodeQmpSaveHeader(*bytes + "QEVM stream");
  REQUIRE(back.ok());
  CHECK(*back == h);
  // An empty map (no encrypted disk) is still a valid header.
  absl::StatusOr<std::string> empty = EncodeQmpSaveHeader({});
  REQUIRE(empty.ok());
  CHECK(DecodeQmpSaveHeader(*empty)->ebs_slots.empty());
}

TEST_CASE("qmp save header: what is refused", "[qmp_save]") {
  struct Row {
    const char* what;  // the bug: accepting it
    QmpSaveHeader header;
  };
  const Row rows[] = {
      {"slot 0", {.ebs_slots = {{"vda", 0}}}},
      {"slot 32", {.ebs_slots = {{"vda", 32}}}},
      {"a target that is no virtio disk", {.ebs_slots = {{"sda", 31}}}},
      {"a target with JSON in it", {.ebs_slots = {{"vd\"}", 31}}}},
  };
  for (const Row& r : rows) {
    INFO(r.what);
    CHECK(EncodeQmpSaveHeader(r.header).status().code() == absl::StatusCode::kInvalidArgument);
  }
  const std::string magic = "MINICLOUD-QMP-SAVE 1\n";
  struct FileRow {
    const char* what;
    std::string head;
    absl::StatusCode code;
  };
  const FileRow files[] = {
      // Bug: libvirt's own save image taken for ours (RestoreDomain would go the wrong way).
      {"libvirt's save image", std::string("LibvirtQemudSave") + std::string(5000, '\0'),
       absl::StatusCode::kNotFound},
      {"an empty file", "", absl::StatusCode::kNotFound},
      // Bug: reading the stream from inside a header that was cut short.
      {"cut short", magic + R"({"ebs_slots":{}})" + "\n", absl::StatusCode::kInvalidArgument},
      {"no end of line", magic + std::string(kQmpSaveHeaderBytes, ' '),
       absl::StatusCode::kInvalidArgument},
      {"not JSON", magic + "hello\n" + std::string(kQmpSaveHeaderBytes, ' '),
       absl::StatusCode::kInvalidArgument},
      {"slots not an object",
       magic + R"({"ebs_slots":[31]})" + "\n" + std::string(kQmpSaveHeaderBytes, ' '),
       absl::StatusCode::kInvalidArgument},
      // Bug: a slot from the file plugged without a check (QEMU would be asked for slot 99).
      {"slot out of range",
       magic + R"({"ebs_slots":{"vda":99}})" + "\n" + std::string(kQmpSaveHeaderBytes, ' '),
       absl::StatusCode::kInvalidArgument},
      {"slot not a number",
       magic + R"({"ebs_slots":{"vda":"31"}})" + "\n" + std::string(kQmpSaveHeaderBytes, ' '),
       absl::StatusCode::kInvalidArgument},
  };
  for (const FileRow& f : files) {
    INFO(f.what);
    CHECK(DecodeQmpSaveHeader(f.head).status().code() == f.code);
  }
}

TEST_CASE("qmp save: encrypted disks' slots from query-pci", "[qmp_save]") {
  const json pci = json::array(
      {{{"bus", 0},
        {"devices",
         {{{"slot", 1}, {"qdev_id", ""}},
          {{"slot", 3}, {"qdev_id", "net0"}},
          {{"slot", 31}, {"qdev_id", "mcx-vda-vol-0123456789abcdef0"}},
          {{"slot", 30}, {"qdev_id", "mcx-vdf-vol-0123456789abcdef1"}},
          // Bug: anything that starts with the prefix taken for a disk.
          {{"slot", 29}, {"qdev_id", "mcx-key-vdf"}}}}},
       // Bug: a device of another bus taken for bus 0's.
       {{"bus", 1}, {"devices", {{{"slot", 5}, {"qdev_id", "mcx-vdg-vol-0123456789abcdef2"}}}}}});
  absl::StatusOr<std::map<std::string, int>> slots = EbsDiskSlots(pci.dump());
  REQUIRE(slots.ok());
  CHECK(*slots == std::map<std::string, int>{{"vda", 31}, {"vdf", 30}});
  CHECK(EbsDiskSlots("{}").status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("qmp save: migration status", "[qmp_save]") {
  struct Row {
    const char* reply;
    int want;  // 1 completed, 0 on the way, -1 error
  };
  const Row rows[] = {
      {R"({"status":"completed","total-time":812})", 1},
      // Bug: waiting stops before the stream is complete.
      {R"({"status":"active"})", 0},
      {R"({"status":"setup"})", 0},
      {R"({"status":"device"})", 0},
      {"{}", 0},
      // Bug: a failed migration waited on until the timeout, or taken as done.
      {R"({"status":"failed","error-desc":"Unable to write to file"})", -1},
      {R"({"status":"cancelled"})", -1},
      {R"([1,2])", -1},
      {R"({"status":7})", -1},
  };
  for (const Row& r : rows) {
    INFO(r.reply);
    absl::StatusOr<bool> done = MigrationCompleted(r.reply);
    if (r.want < 0) {
      CHECK_FALSE(done.ok());
    } else {
      REQUIRE(done.ok());
      CHECK(*done == (r.want == 1));
    }
  }
  CHECK(absl::StrContains(MigrationCompleted(rows[5].reply).status().message(),
                          "Unable to write to file"));
}

TEST_CASE("qmp save: the commands name the file's descriptor", "[qmp_save]") {
  CHECK(json::parse(GetFdCommand("mcx-state")) ==
        json{{"execute", "getfd"}, {"arguments", {{"fdname", "mcx-state"}}}});
  CHECK(json::parse(MigrateToFdCommand("mcx-state")) ==
        json{{"execute", "migrate"}, {"arguments", {{"uri", "fd:mcx-state"}}}});
  CHECK(json::parse(MigrateIncomingFromFdCommand("mcx-state")) ==
        json{{"execute", "migrate-incoming"}, {"arguments", {{"uri", "fd:mcx-state"}}}});
  // Bug: QEMU's default cap of 32 MiB/s left on (a 4 GiB guest would take two minutes).
  CHECK(json::parse(UnlimitedMigrationSpeedCommand())["arguments"]["max-bandwidth"].get<int64_t>() >
        (int64_t{1} << 40));
}

TEST_CASE("BuildIncomingDomainXml: the domain XML plus -incoming defer, nothing else",
          "[domain_xml]") {
  const DomainSpec spec = testing::MakeSpec("i-0123456789abcdef0").Build();
  absl::StatusOr<std::string> plain = BuildDomainXml(spec);
  absl::StatusOr<std::string> incoming = BuildIncomingDomainXml(spec);
  REQUIRE(plain.ok());
  REQUIRE(incoming.ok());
  const std::string ns = " xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'";
  const std::string args =
      "  <qemu:commandline>\n"
      "    <qemu:arg value='-incoming'/>\n"
      "    <qemu:arg value='defer'/>\n"
      "  </qemu:commandline>\n";
  // Bug: the namespace missing (libvirt drops qemu:commandline it cannot resolve), the
  // arguments missing or outside <domain>, or any other difference to the guest's devices.
  std::string want = *plain;
  want.insert(want.find('>'), ns);
  want.insert(want.rfind("</domain>"), args);
  CHECK(*incoming == want);
  CHECK(plain->find("-incoming") == std::string::npos);
  DomainSpec bad = spec;
  bad.instance_id = "../x";
  CHECK(BuildIncomingDomainXml(bad).status().code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace minicloud::hypervisor
