// The QMP commands of EBS disks, plain and encrypted (agent/hypervisor/ebs_qmp.h), and the parsing
// of QEMU's replies. Table-driven; each table row says the one-line bug it catches.
#include "agent/hypervisor/ebs_qmp.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "agent/hypervisor/domain_xml.h"
#include "tests/unit/hypervisor/spec_builder.h"

namespace minicloud::hypervisor {
namespace {

using nlohmann::json;

constexpr char kKey[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

EbsDisk Encrypted() {
  volumes::IoTune io;
  io.total_bytes_sec = 128 << 20;
  io.total_iops_sec = 3000;
  return EbsDisk{.volume_id = "vol-0123456789abcdef0",
                 .nbd_host = "volumed.home-1a.minicloud.internal",
                 .nbd_port = 10809,
                 .export_name = "vol-0123456789abcdef0",
                 .target_dev = "vdf",
                 .iotune = io,
                 .boot = false,
                 .luks_key = kKey};
}

std::vector<json> Plug(const EbsDisk& d, int slot, bool firmware_boot = true,
                       const std::string& nbd_tls_dir = "") {
  absl::StatusOr<std::vector<std::string>> c = EbsPlugCommands(d, slot, firmware_boot, nbd_tls_dir);
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  std::vector<json> out;
  for (const std::string& s : *c) out.push_back(json::parse(s));
  return out;
}

TEST_CASE("EbsPlugCommands: order, names and arguments", "[ebs_qmp]") {
  const std::vector<json> c = Plug(Encrypted(), 31);
  REQUIRE(c.size() == 6);
  struct Row {
    size_t index;
    std::string execute;
    json::json_pointer field;
    json value;
    const char* bug;
  };
  const std::string dev = "mcx-vdf-vol-0123456789abcdef0";
  const std::vector<Row> rows = {
      {0, "object-add", json::json_pointer("/arguments/qom-type"), "secret",
       "the key not given as a QEMU secret object"},
      {0, "object-add", json::json_pointer("/arguments/format"), "base64",
       "the key passed raw (a byte QEMU reads as text would change it)"},
      {0, "object-add", json::json_pointer("/arguments/data"), absl::Base64Escape(kKey),
       "another key (or an encoding slip) given to QEMU"},
      {1, "blockdev-add", json::json_pointer("/arguments/driver"), "nbd",
       "the volume not read from the volume service's NBD export"},
      {1, "blockdev-add", json::json_pointer("/arguments/server/host"),
       "volumed.home-1a.minicloud.internal", "the wrong volume service"},
      {1, "blockdev-add", json::json_pointer("/arguments/server/port"), "10809",
       "the port as a number (QEMU's inet address takes a string)"},
      {1, "blockdev-add", json::json_pointer("/arguments/export"), "vol-0123456789abcdef0",
       "another volume's export"},
      {1, "blockdev-add", json::json_pointer("/arguments/reconnect-delay"),
       kNbdReconnectDelaySeconds,
       "no reconnect: a restart of the volume service fails the guest's I/O for good"},
      {1, "blockdev-add", json::json_pointer("/arguments/cache/direct"), true,
       "host page cache between the guest and the network (cache='none' lost)"},
      {2, "blockdev-add", json::json_pointer("/arguments/driver"), "luks",
       "the guest handed LUKS ciphertext (no luks layer)"},
      {2, "blockdev-add", json::json_pointer("/arguments/file"), "mcx-nbd-vdf",
       "the luks layer over the wrong node"},
      {2, "blockdev-add", json::json_pointer("/arguments/key-secret"), "mcx-key-vdf",
       "the luks layer naming another secret"},
      {3, "object-del", json::json_pointer("/arguments/id"), "mcx-key-vdf",
       "the passphrase kept in QEMU after the disk was opened"},
      {4, "device_add", json::json_pointer("/arguments/driver"), "virtio-blk-pci",
       "the disk not a virtio disk like every other EBS disk"},
      {4, "device_add", json::json_pointer("/arguments/id"), dev,
       "a device id the agent cannot parse back after a restart"},
      {4, "device_add", json::json_pointer("/arguments/drive"), "mcx-luks-vdf",
       "the device on the NBD node (ciphertext) instead of the luks node"},
      {4, "device_add", json::json_pointer("/arguments/serial"), "vol0123456789abcdef0",
       "the guest cannot find the volume by its id"},
      {4, "device_add", json::json_pointer("/arguments/addr"), "0x1f",
       "the PCI slot asked for not used"},
      {5, "block_set_io_throttle", json::json_pointer("/arguments/id"),
       "/machine/peripheral/" + dev + "/virtio-backend",
       "the limits aimed at the PCI proxy, which has no block backend (QEMU refuses), or at "
       "another device"},
      {5, "block_set_io_throttle", json::json_pointer("/arguments/bps"), 128 << 20,
       "the throughput limit lost"},
      {5, "block_set_io_throttle", json::json_pointer("/arguments/iops"), 3000,
       "the IOPS limit lost"},
  };
  for (const Row& r : rows) {
    INFO(r.bug);
    CHECK(c[r.index]["execute"] == r.execute);
    REQUIRE(c[r.index].contains(r.field));
    CHECK(c[r.index][r.field] == r.value);
  }
  // Bug: a data disk made bootable (the guest might boot from a data volume).
  CHECK_FALSE(c[4]["arguments"].contains("bootindex"));
  // Bug: the key anywhere but the first command.
  for (size_t i = 1; i < c.size(); ++i) CHECK(c[i].dump().find(kKey) == std::string::npos);
}

TEST_CASE("EbsPlugCommands: a plain disk is the NBD node itself, with no key", "[ebs_qmp]") {
  EbsDisk plain = Encrypted();
  plain.luks_key.clear();
  const std::vector<json> c = Plug(plain, 30);
  // Bug: a secret, a luks layer or an object-del for a disk that has no key (QEMU would fail
  // the plug on an empty secret, or read the volume's plain blocks as a LUKS header).
  REQUIRE(c.size() == 3);
  CHECK(c[0]["execute"] == "blockdev-add");
  CHECK(c[0]["arguments"]["driver"] == "nbd");
  CHECK(c[0]["arguments"]["node-name"] == "mcx-nbd-vdf");
  // Bug: a plain disk plugged without reconnect (a volume service restart or a grow would fail
  // its I/O for good, the reason plain disks are plugged over QMP at all).
  CHECK(c[0]["arguments"]["reconnect-delay"] == kNbdReconnectDelaySeconds);
  CHECK(c[1]["execute"] == "device_add");
  // Bug: the device on a luks node that does not exist.
  CHECK(c[1]["arguments"]["drive"] == "mcx-nbd-vdf");
  CHECK(c[1]["arguments"]["addr"] == "0x1e");
  CHECK(c[2]["execute"] == "block_set_io_throttle");
  for (const json& cmd : c) CHECK(cmd.dump().find("luks") == std::string::npos);
}

TEST_CASE("EbsPlugCommands: the root boots first and an unlimited disk gets no throttle",
          "[ebs_qmp]") {
  EbsDisk root = Encrypted();
  root.boot = true;
  root.target_dev = "vda";
  root.iotune = {};
  const std::vector<json> c = Plug(root, 8);
  // Bug: a root without I/O limits given a throttle call QEMU refuses (all zero is invalid).
  REQUIRE(c.size() == 5);
  // Bug: the encrypted root not first in the boot order (the firmware boots nothing).
  CHECK(c[4]["arguments"]["bootindex"] == 0);
  CHECK(c[4]["arguments"]["addr"] == "0x8");
  CHECK(c[4]["arguments"]["id"] == "mcx-vda-vol-0123456789abcdef0");
  // Bug: a directly loaded kernel's root given boot index 0, which QEMU's kernel loader holds
  // (device_add fails: "The bootindex 0 has already been used").
  const std::vector<json> direct = Plug(root, 8, /*firmware_boot=*/false);
  REQUIRE(direct.size() == 5);
  CHECK_FALSE(direct[4]["arguments"].contains("bootindex"));
}

TEST_CASE("EbsPlugCommands: refusals", "[ebs_qmp]") {
  struct Row {
    EbsDisk disk;
    int slot;
    const char* bug;
  };
  EbsDisk bad_target = Encrypted();
  bad_target.target_dev = "sdf";
  EbsDisk bad_export = Encrypted();
  bad_export.export_name = "vol\",\"x\":\"y";
  const std::vector<Row> rows = {
      {bad_target, 31, "a target that is no virtio name (unparseable device id)"},
      {bad_export, 31, "an export name that is not validated"},
      {Encrypted(), 0, "slot 0 (the host bridge)"},
      {Encrypted(), 32, "a slot past the bus"},
  };
  for (const Row& r : rows) {
    INFO(r.bug);
    absl::StatusOr<std::vector<std::string>> c = EbsPlugCommands(r.disk, r.slot);
    CHECK(c.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(std::string(c.status().message()).find(kKey) == std::string::npos);
  }
}

TEST_CASE("EbsReleaseCommands and EbsUnplugCommand", "[ebs_qmp]") {
  const std::vector<std::string> r = EbsReleaseCommands("vdg");
  REQUIRE(r.size() == 4);
  // Bug: the nbd node deleted before the luks node that uses it (QEMU refuses: node in use).
  CHECK(json::parse(r[0])["arguments"]["node-name"] == "mcx-luks-vdg");
  CHECK(json::parse(r[1])["arguments"]["node-name"] == "mcx-nbd-vdg");
  CHECK(json::parse(r[2]) ==
        json::parse(R"({"execute":"object-del","arguments":{"id":"mcx-key-vdg"}})"));
  // Bug: the TLS object deleted before the NBD node that uses it.
  CHECK(json::parse(r[3]) ==
        json::parse(R"({"execute":"object-del","arguments":{"id":"mcx-tls-vdg"}})"));
  CHECK(json::parse(EbsUnplugCommand("mcx-vdg-vol-1")) ==
        json::parse(R"({"execute":"device_del","arguments":{"id":"mcx-vdg-vol-1"}})"));
}

TEST_CASE("QmpReturn", "[ebs_qmp]") {
  struct Row {
    std::string reply;
    absl::StatusCode code;
    std::string value;  // the return value, when ok
    const char* bug;
  };
  const std::vector<Row> rows = {
      {R"({"return": {}})", absl::StatusCode::kOk, "{}", "an empty return taken for an error"},
      {R"({"return": [1,2]})", absl::StatusCode::kOk, "[1,2]", "the value not handed back"},
      {R"({"error": {"class": "DeviceNotFound", "desc": "Device 'x' not found"}})",
       absl::StatusCode::kNotFound, "", "a gone device not told apart (detach not idempotent)"},
      {R"({"error": {"class": "GenericError", "desc": "Invalid password"}})",
       absl::StatusCode::kFailedPrecondition, "", "a wrong key taken for success"},
      {"not json", absl::StatusCode::kInvalidArgument, "", "garbage crashing the parser"},
      {R"({"id": 1})", absl::StatusCode::kInvalidArgument, "", "a reply with neither"},
      {"[]", absl::StatusCode::kInvalidArgument, "", "a non-object reply"},
  };
  for (const Row& r : rows) {
    INFO(r.bug);
    absl::StatusOr<std::string> v = QmpReturn(r.reply);
    CHECK(v.status().code() == r.code);
    if (v.ok()) CHECK(*v == r.value);
  }
  CHECK(std::string(QmpReturn(rows[3].reply).status().message()).find("Invalid password") !=
        std::string::npos);
}

TEST_CASE("EbsDisksInQomList finds the encrypted disks again", "[ebs_qmp]") {
  const std::string list = R"([
    {"name": "type", "type": "string"},
    {"name": "virtio-disk0", "type": "child<virtio-blk-pci>"},
    {"name": "mcx-vdf-vol-0123456789abcdef0", "type": "child<virtio-blk-pci>"},
    {"name": "mcx-vdxy-vol-0fedcba9876543210", "type": "child<virtio-blk-pci>"},
    {"name": "mcx-sdf-vol-1", "type": "child<virtio-blk-pci>"},
    {"name": "mcx-vdg-", "type": "child<virtio-blk-pci>"},
    {"name": "mcx-vdh-vol-2", "type": "link<virtio-blk-pci>"}
  ])";
  const std::vector<AttachedEbsDisk> d = EbsDisksInQomList(list);
  // Bugs: libvirt's own devices listed as encrypted; a target with two letters cut; a
  // malformed id or a link (not a device) taken for a disk.
  REQUIRE(d.size() == 2);
  CHECK(d[0].target_dev == "vdf");
  CHECK(d[0].export_name == "vol-0123456789abcdef0");
  CHECK(d[1].target_dev == "vdxy");
  CHECK(d[1].export_name == "vol-0fedcba9876543210");
  CHECK(EbsDisksInQomList("{").empty());
  // The id EbsPlugCommands gives parses back to the same disk.
  const std::vector<AttachedEbsDisk> back = EbsDisksInQomList(
      json::array({{{"name", EbsDeviceId(Encrypted())}, {"type", "child<virtio-blk-pci>"}}})
          .dump());
  REQUIRE(back.size() == 1);
  CHECK(back[0].target_dev == "vdf");
  CHECK(back[0].export_name == Encrypted().export_name);
}

TEST_CASE("FreePciSlot takes the highest free slot of bus 0", "[ebs_qmp]") {
  struct Row {
    std::string query_pci;
    absl::StatusCode code;
    int slot;
    const char* bug;
  };
  std::string full = R"([{"bus":0,"devices":[)";
  for (int s = 0; s < 32; ++s) full += (s ? "," : "") + ("{\"slot\":" + std::to_string(s) + "}");
  full += "]}]";
  const std::vector<Row> rows = {
      {R"([{"bus":0,"devices":[{"slot":0},{"slot":1},{"slot":2}]}])", absl::StatusCode::kOk, 31,
       "slots taken from the bottom (collides with libvirt's next hot-plug)"},
      {R"([{"bus":0,"devices":[{"slot":31},{"slot":30}]}])", absl::StatusCode::kOk, 29,
       "a used slot handed out"},
      {R"([{"bus":1,"devices":[]},{"bus":0,"devices":[{"slot":31}]}])", absl::StatusCode::kOk, 30,
       "another bus read as bus 0"},
      {full, absl::StatusCode::kResourceExhausted, 0, "a full bus not reported"},
      {R"({"bus":0})", absl::StatusCode::kInvalidArgument, 0, "garbage accepted"},
      {R"([{"bus":1,"devices":[]}])", absl::StatusCode::kInvalidArgument, 0, "no bus 0 accepted"},
  };
  for (const Row& r : rows) {
    INFO(r.bug);
    absl::StatusOr<int> s = FreePciSlot(r.query_pci);
    CHECK(s.status().code() == r.code);
    if (s.ok()) CHECK(*s == r.slot);
  }
}

// Bug: an EBS disk written into the domain XML: libvirt would plug it itself, without
// reconnect (a volume service restart fails its I/O for good), an encrypted one would need a
// secret, and the definition on disk would list it.
TEST_CASE("BuildDomainXml leaves EBS disks to QMP", "[ebs_qmp]") {
  EbsDisk root = Encrypted();
  root.boot = true;
  root.target_dev = "vda";
  root.volume_id = root.export_name = "vol-0aaaaaaaaaaaaaaa0";
  EbsDisk plain = Encrypted();
  plain.luks_key.clear();
  plain.target_dev = "vdg";
  plain.volume_id = plain.export_name = "vol-0bbbbbbbbbbbbbbb0";
  const DomainSpec spec =
      testing::MakeSpec("i-0123456789abcdef0").RootDisk("").Ebs(root).Ebs(Encrypted()).Ebs(plain);
  absl::StatusOr<std::string> xml = BuildDomainXml(spec);
  INFO(xml.status().ToString());
  REQUIRE(xml.ok());
  CHECK(xml->find("vol-0aaaaaaaaaaaaaaa0") == std::string::npos);
  CHECK(xml->find("vol-0123456789abcdef0") == std::string::npos);
  CHECK(xml->find(kKey) == std::string::npos);
  CHECK(xml->find("vol-0bbbbbbbbbbbbbbb0") == std::string::npos);
  CHECK(xml->find("nbd") == std::string::npos);
}

// An encrypted disk whose volume service wants NBD over TLS.
TEST_CASE("EbsPlugCommands: NBD over TLS", "[ebs_qmp][tls]") {
  EbsDisk d = Encrypted();
  d.nbd_tls = true;
  d.nbd_tls_hostname = "minicloud-volumed.home-1a";
  const std::vector<json> c = Plug(d, 31, true, "/var/lib/minicloud/agent/nbd-tls");
  REQUIRE(c.size() == 7);
  struct Row {
    size_t index;
    json::json_pointer field;
    json value;
    const char* bug;
  };
  const std::vector<Row> rows = {
      {0, json::json_pointer("/arguments/qom-type"), "secret",
       "the key no longer the first command (its contract: callers never log the first)"},
      {1, json::json_pointer("/execute"), "object-add", "no TLS credentials object"},
      {1, json::json_pointer("/arguments/qom-type"), "tls-creds-x509", "another object type"},
      {1, json::json_pointer("/arguments/id"), "mcx-tls-vdf", "an id the release does not drop"},
      {1, json::json_pointer("/arguments/dir"), "/var/lib/minicloud/agent/nbd-tls",
       "another directory than the host's NBD client credentials"},
      {1, json::json_pointer("/arguments/endpoint"), "client", "a server object on the client"},
      {1, json::json_pointer("/arguments/verify-peer"), true,
       "the volume service's certificate not checked"},
      {2, json::json_pointer("/arguments/driver"), "nbd", "TLS object after the NBD node"},
      {2, json::json_pointer("/arguments/tls-creds"), "mcx-tls-vdf",
       "the NBD node without TLS (plain NBD to a TLS server: refused)"},
      {2, json::json_pointer("/arguments/tls-hostname"), "minicloud-volumed.home-1a",
       "the certificate checked for the dialled address instead of the service's name"},
  };
  for (const Row& r : rows) {
    INFO(r.bug);
    REQUIRE(c[r.index].contains(r.field));
    CHECK(c[r.index][r.field] == r.value);
  }
  // Plain disks get neither.
  for (const json& cmd : Plug(Encrypted(), 31, true, "/var/lib/minicloud/agent/nbd-tls")) {
    CHECK_FALSE(cmd.dump().find("tls") != std::string::npos);
  }
  // Bug: a TLS disk plugged without credentials (QEMU's error would come much later).
  CHECK(EbsPlugCommands(d, 31, true, "").status().code() == absl::StatusCode::kInvalidArgument);
  // Bug: the TLS object left behind by an unplug (the next plug at the target fails on the id).
  bool released = false;
  for (const std::string& cmd : EbsReleaseCommands("vdf")) {
    released = released || cmd.find("\"mcx-tls-vdf\"") != std::string::npos;
  }
  CHECK(released);
}

}  // namespace
}  // namespace minicloud::hypervisor

namespace minicloud::hypervisor {
namespace {

// query-block as QEMU 7.2 answers it (trimmed): libvirt's own disk, an encrypted EBS disk (its
// device on the luks node), a plain one (on the nbd node), and odd entries.
TEST_CASE("EbsDiskSizesInQueryBlock reads each EBS disk's node and size", "[ebs_qmp]") {
  const std::string reply = R"([
    {"device": "", "qdev": "/machine/peripheral/virtio-disk0/virtio-backend",
     "inserted": {"node-name": "libvirt-1-format", "image": {"virtual-size": 2147483648}}},
    {"device": "", "qdev": "/machine/peripheral/mcx-vdf-vol-0123456789abcdef0/virtio-backend",
     "inserted": {"node-name": "mcx-luks-vdf", "image": {"virtual-size": 16777216}}},
    {"device": "", "qdev": "/machine/peripheral/mcx-vdg-vol-0fedcba9876543210/virtio-backend",
     "inserted": {"node-name": "mcx-nbd-vdg", "image": {"virtual-size": 1073741824}}},
    {"device": "", "qdev": "/machine/peripheral/mcx-vdh-vol-1/virtio-backend"},
    {"device": "", "qdev": "/machine/peripheral/mcx-vdi-vol-2/virtio-backend",
     "inserted": {"node-name": "mcx-nbd-vdi", "image": {"virtual-size": "big"}}},
    {"device": "", "qdev": "/machine/peripheral/mcx-vdj-vol-3",
     "inserted": {"node-name": "mcx-nbd-vdj", "image": {"virtual-size": 1}}},
    "not an object"
  ])";
  const std::vector<EbsDiskSize> sizes = EbsDiskSizesInQueryBlock(reply);
  // Bugs: libvirt's disk taken for an EBS disk; an entry without a medium or a size, or a qdev
  // that is not the device's block backend, read as a size (the agent would grow it).
  REQUIRE(sizes.size() == 2);
  CHECK(sizes[0].target_dev == "vdf");
  // Bug: the grow aimed at the NBD node under a LUKS one (the guest would keep its size).
  CHECK(sizes[0].node_name == "mcx-luks-vdf");
  CHECK(sizes[0].bytes == 16777216);
  CHECK(sizes[1].target_dev == "vdg");
  CHECK(sizes[1].node_name == "mcx-nbd-vdg");
  CHECK(sizes[1].bytes == 1073741824);
  CHECK(EbsDiskSizesInQueryBlock("garbage").empty());
  CHECK(EbsDiskSizesInQueryBlock("{}").empty());
}

TEST_CASE("The grow's commands: a read through the NBD node, then block_resize", "[ebs_qmp]") {
  // Bug: the read aimed at the device's top node or not at all (the NBD client would not
  // reconnect, and block_resize would find the old export size).
  CHECK(json::parse(NbdReconnectCommand("vdf")) ==
        json::parse(R"({"execute":"human-monitor-command",
                        "arguments":{"command-line":"qemu-io mcx-nbd-vdf \"read 0 512\""}})"));
  // Bug: the size as a string or in GiB.
  CHECK(json::parse(GrowCommand("mcx-luks-vdf", int64_t{2} << 30)) ==
        json::parse(R"({"execute":"block_resize",
                        "arguments":{"node-name":"mcx-luks-vdf","size":2147483648}})"));
}

TEST_CASE("ThrottleCommand: the device's backend, the total limits only", "[ebs_qmp]") {
  EbsDisk d;
  d.target_dev = "vdg";
  d.export_name = "vol-0fedcba9876543210";
  d.iotune.total_iops_sec = 4000;
  d.iotune.total_bytes_sec = 1000 << 20;
  const json c = json::parse(ThrottleCommand(d));
  CHECK(c["execute"] == "block_set_io_throttle");
  CHECK(c["arguments"]["id"] == "/machine/peripheral/mcx-vdg-vol-0fedcba9876543210/virtio-backend");
  CHECK(c["arguments"]["iops"] == 4000);
  CHECK(c["arguments"]["bps"] == 1000 << 20);
  // Bug: a burst written without its limits (QEMU refuses a *_max_length without *_max).
  CHECK_FALSE(c["arguments"].contains("iops_max"));
  CHECK_FALSE(c["arguments"].contains("bps_max_length"));
  CHECK(c["arguments"]["iops_rd"] == 0);
}

}  // namespace
}  // namespace minicloud::hypervisor
