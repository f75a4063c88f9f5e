// InspectQcow2Bytes on headers built field by field, and under random corruption (files
// made by qemu-img, and PlanOverlay: qcow2_file_test.cc).

#include "common/storage/qcow2.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/storage/storage_test_util.h"

namespace minicloud::storage {
namespace {

using testing::Be32;
using testing::Be64;
using testing::Run;

// Builds a qcow2 header (plus extensions and backing name) field by field.
class HeaderBuilder {
 public:
  HeaderBuilder& Magic(uint32_t v) {
    magic_ = v;
    return *this;
  }
  HeaderBuilder& Version(uint32_t v) {
    version_ = v;
    if (v == 2) header_length_ = 72;
    return *this;
  }
  HeaderBuilder& ClusterBits(uint32_t v) {
    cluster_bits_ = v;
    return *this;
  }
  HeaderBuilder& Size(uint64_t v) {
    size_ = v;
    return *this;
  }
  HeaderBuilder& Crypt(uint32_t v) {
    crypt_ = v;
    return *this;
  }
  HeaderBuilder& L1Size(uint32_t v) {
    l1_size_ = v;
    return *this;
  }
  HeaderBuilder& L1Offset(uint64_t v) {
    l1_offset_ = v;
    return *this;
  }
  HeaderBuilder& RefcountTable(uint64_t offset, uint32_t clusters) {
    rt_offset_ = offset;
    rt_clusters_ = clusters;
    return *this;
  }
  HeaderBuilder& Snapshots(uint32_t n, uint64_t offset) {
    nb_snapshots_ = n;
    snapshots_offset_ = offset;
    return *this;
  }
  HeaderBuilder& Incompat(uint64_t v) {
    incompat_ = v;
    return *this;
  }
  HeaderBuilder& Compat(uint64_t v) {
    compat_ = v;
    return *this;
  }
  HeaderBuilder& Autoclear(uint64_t v) {
    autoclear_ = v;
    return *this;
  }
  HeaderBuilder& RefcountOrder(uint32_t v) {
    refcount_order_ = v;
    return *this;
  }
  HeaderBuilder& HeaderLength(uint32_t v) {
    header_length_ = v;
    return *this;
  }
  HeaderBuilder& CompressionType(uint8_t v) {
    compression_ = v;
    return *this;
  }
  HeaderBuilder& Extension(uint32_t type, std::string payload) {
    extensions_.push_back({type, std::move(payload)});
    return *this;
  }
  HeaderBuilder& Backing(std::string name) {
    backing_ = std::move(name);
    return *this;
  }
  // Overrides the computed backing offset/size.
  HeaderBuilder& BackingLocation(uint64_t offset, uint32_t size) {
    backing_offset_override_ = offset;
    backing_size_override_ = size;
    return *this;
  }

  std::string Build() const {
    std::string h(version_ >= 3 ? std::max<uint32_t>(header_length_, 104) : 72, '\0');
    auto put = [&h](size_t off, const std::string& b) {
      if (off + b.size() <= h.size()) h.replace(off, b.size(), b);
    };
    const uint64_t cluster = uint64_t{1} << (cluster_bits_ & 63);
    const uint64_t l1_offset = l1_offset_.value_or(3 * cluster);
    const uint64_t rt_offset = rt_offset_.value_or(cluster);
    uint32_t l1_size = l1_size_.value_or(0);
    if (!l1_size_ && cluster_bits_ >= 9 && cluster_bits_ <= 21) {
      const uint64_t per = (cluster / 8) * cluster;
      l1_size = static_cast<uint32_t>((size_ + per - 1) / per);
    }
    std::string tail;  // extensions + end marker
    for (const auto& [type, payload] : extensions_) {
      tail += Be32(type) + Be32(static_cast<uint32_t>(payload.size())) + payload;
      tail.append((8 - payload.size() % 8) % 8, '\0');
    }
    tail += std::string(8, '\0');
    const uint64_t backing_offset =
        backing_offset_override_.value_or(backing_.empty() ? 0 : h.size() + tail.size());
    const uint32_t backing_size =
        backing_size_override_.value_or(static_cast<uint32_t>(backing_.size()));

    put(0, Be32(magic_));
    put(4, Be32(version_));
    put(8, Be64(backing_offset));
    put(16, Be32(backing_size));
    put(20, Be32(cluster_bits_));
    put(24, Be64(size_));
    put(32, Be32(crypt_));
    put(36, Be32(l1_size));
    put(40, Be64(l1_offset));
    put(48, Be64(rt_offset));
    put(56, Be32(rt_clusters_));
    put(60, Be32(nb_snapshots_));
    put(64, Be64(snapshots_offset_));
    if (version_ >= 3) {
      put(72, Be64(incompat_));
      put(80, Be64(compat_));
      put(88, Be64(autoclear_));
      put(96, Be32(refcount_order_));
      put(100, Be32(header_length_));
      if (h.size() > 104) h[104] = static_cast<char>(compression_);
    }
    return h + tail + backing_;
  }

 private:
  uint32_t magic_ = 0x514649fb;
  uint32_t version_ = 3;
  uint32_t cluster_bits_ = 16;
  uint64_t size_ = 1ull << 30;
  uint32_t crypt_ = 0;
  std::optional<uint32_t> l1_size_;
  std::optional<uint64_t> l1_offset_;
  std::optional<uint64_t> rt_offset_;
  uint32_t rt_clusters_ = 1;
  uint32_t nb_snapshots_ = 0;
  uint64_t snapshots_offset_ = 0;
  uint64_t incompat_ = 0, compat_ = 0, autoclear_ = 0;
  uint32_t refcount_order_ = 4;
  uint32_t header_length_ = 112;
  uint8_t compression_ = 0;
  std::vector<std::pair<uint32_t, std::string>> extensions_;
  std::string backing_;
  std::optional<uint64_t> backing_offset_override_;
  std::optional<uint32_t> backing_size_override_;
};

HeaderBuilder Header() { return HeaderBuilder(); }

constexpr uint32_t kExtBackingFormat = 0xe2792aca;

struct BytesCase {
  std::string name;
  std::string bytes;
  std::string error;  // empty: must parse; else substring of the InvalidArgument message
};

TEST_CASE("InspectQcow2Bytes accepts and rejects headers", "[storage][qcow2]") {
  const std::vector<BytesCase> cases = {
      {"v3 default", Header().Build(), ""},
      {"v2", Header().Version(2).Build(), ""},
      {"v3 header_length 104 (no compression byte)", Header().HeaderLength(104).Build(), ""},
      {"v3 longer header (future fields)", Header().HeaderLength(120).Build(), ""},
      {"cluster_bits 9", Header().ClusterBits(9).Size(1 << 20).Build(), ""},
      {"cluster_bits 21", Header().ClusterBits(21).Build(), ""},
      {"lazy refcounts", Header().Compat(1).Build(), ""},
      {"zstd", Header().Incompat(1 << 3).CompressionType(1).Build(), ""},
      {"extended L2", Header().Incompat(1 << 4).L1Size(4).Build(), ""},
      {"bitmaps autoclear", Header().Autoclear(1).Build(), ""},
      {"backing file", Header().Backing("/images/base.qcow2").Build(), ""},
      {"unknown compatible ext ignored", Header().Extension(0x12345678, "xyz").Build(), ""},
      {"empty", "", "too short"},
      {"three bytes", "QFI", "too short"},
      {"raw zeros", std::string(4096, '\0'), "not a qcow2 image (magic 0x00000000"},
      {"text", "hello world, this is not a disk image\n", "not a qcow2 image (magic 0x68656c6c"},
      {"ELF",
       std::string("\x7f"
                   "ELF") +
           std::string(100, '\0'),
       "not a qcow2 image"},
      {"qcow1-ish magic, wrong last byte", "QFI\xfe" + std::string(200, '\0'), "not a qcow2"},
      {"truncated v2 header", Header().Build().substr(0, 50), "truncated"},
      {"truncated v3 header", Header().Build().substr(0, 90), "truncated"},
      {"version 1", Header().Version(1).Build(), "unsupported qcow2 version 1"},
      {"version 4", Header().Version(4).Build(), "unsupported qcow2 version 4"},
      {"cluster_bits 8", Header().ClusterBits(8).L1Size(1).Build(), "cluster_bits 8"},
      {"cluster_bits 22", Header().ClusterBits(22).L1Size(1).Build(), "cluster_bits 22"},
      {"cluster_bits huge", Header().ClusterBits(0xffffffff).L1Size(1).Build(), "cluster_bits"},
      {"header_length 100", Header().HeaderLength(100).Build(), "header length 100"},
      {"header_length odd", Header().HeaderLength(108 + 1).Build(), "header length"},
      {"header_length > cluster", Header().ClusterBits(9).Size(1 << 20).HeaderLength(520).Build(),
       "exceeds the cluster size"},
      {"AES", Header().Crypt(1).Build(), "encrypted qcow2 images are not supported"},
      {"LUKS", Header().Crypt(2).Build(), "encrypted"},
      {"crypt 7", Header().Crypt(7).Build(), "invalid qcow2 crypt method 7"},
      {"dirty", Header().Incompat(1).Build(), "dirty"},
      {"corrupt", Header().Incompat(2).Build(), "corrupt"},
      {"external data file", Header().Incompat(4).Build(), "external data file"},
      {"unknown incompat", Header().Incompat(1ull << 40).Build(), "unknown qcow2 incompatible"},
      {"refcount order 7", Header().RefcountOrder(7).Build(), "refcount order"},
      {"compression 2", Header().Incompat(8).CompressionType(2).Build(), "compression type 2"},
      {"zstd without bit", Header().CompressionType(1).Build(), "without its incompatible"},
      {"bit with zlib", Header().Incompat(8).Build(), "with zlib"},
      {"extended L2 small clusters", Header().Incompat(16).ClusterBits(12).Build(), "16 KiB"},
      {"L1 too small", Header().L1Size(1).Build(), "L1 table too small"},
      {"L1 too large", Header().L1Size(0x1000000).Build(), "L1 table too large"},
      {"L1 unaligned", Header().L1Offset(12345).Build(), "not cluster-aligned"},
      {"L1 overflow", Header().L1Offset(0xffffffffffff0000ull).Build(), "overflows"},
      {"size > INT64_MAX", Header().Size(1ull << 63).L1Size(1).Build(), "too large"},
      {"no refcount table", Header().RefcountTable(65536, 0).Build(), "no refcount table"},
      {"refcount table unaligned", Header().RefcountTable(100, 1).Build(), "not cluster-aligned"},
      {"refcount table huge", Header().RefcountTable(65536, 1000).Build(), "too large"},
      {"too many snapshots", Header().Snapshots(70000, 65536).Build(), "too many snapshots"},
      {"snapshot table unaligned", Header().Snapshots(1, 77).Build(), "not cluster-aligned"},
      {"backing name inside header", Header().BackingLocation(16, 4).Build(), "backing file"},
      {"backing name too long", Header().Backing(std::string(1024, 'a')).Build(),
       "invalid backing file name location"},
      {"backing name past cluster end",
       Header().ClusterBits(9).Size(1 << 20).Backing(std::string(500, 'a')).Build(),
       "invalid backing file name location"},
      {"backing name truncated", Header().Backing("/images/base.qcow2").Build().substr(0, 130),
       "truncated"},
      {"backing name with NUL", Header().Backing(std::string("/a\0b", 4)).Build(), "NUL"},
      {"backing format too long",
       Header().Extension(kExtBackingFormat, std::string(16, 'q')).Build(), "too long"},
      {"extension overruns cluster",
       Header().ClusterBits(9).Size(1 << 20).Extension(0x1234, std::string(500, 'x')).Build(),
       "too large"},
      {"extension payload truncated",
       Header().Extension(0x1234, std::string(64, 'x')).Build().substr(0, 150), "truncated"},
      {"data-file extension", Header().Extension(0x44415441, "/etc/shadow").Build(),
       "external data file"},
      {"crypto extension without crypt", Header().Extension(0x0537be77, std::string(16, 0)).Build(),
       "encryption"},
  };
  for (const BytesCase& c : cases) {
    SECTION(c.name) {
      absl::StatusOr<Qcow2Info> info = InspectQcow2Bytes(c.bytes);
      INFO("status: " << info.status().ToString());
      if (c.error.empty()) {
        REQUIRE(info.ok());
      } else {
        REQUIRE(info.status().code() == absl::StatusCode::kInvalidArgument);
        CHECK_THAT(std::string(info.status().message()), Catch::Contains(c.error));
      }
    }
  }
}

TEST_CASE("InspectQcow2Bytes reports the fields", "[storage][qcow2]") {
  const std::string bytes = Header()
                                .ClusterBits(16)
                                .Size(10ull << 30)
                                .Compat(1)
                                .Autoclear(2)
                                .Extension(kExtBackingFormat, "qcow2")
                                .Backing("/var/lib/minicloud/images/abc")
                                .Build();
  absl::StatusOr<Qcow2Info> info = InspectQcow2Bytes(bytes);
  REQUIRE(info.ok());
  CHECK(info->version == 3);
  CHECK(info->cluster_bits == 16);
  CHECK(info->cluster_size == 65536);
  CHECK(info->virtual_size == (10ull << 30));
  CHECK(info->l1_size == 20);
  CHECK(info->compatible_features == 1);
  CHECK(info->autoclear_features == 2);
  CHECK(info->header_length == 112);
  CHECK(info->refcount_order == 4);
  CHECK(info->compression_type == Qcow2Compression::kZlib);
  CHECK(info->has_backing_file());
  CHECK(info->backing_file == "/var/lib/minicloud/images/abc");
  CHECK(info->backing_format == "qcow2");

  absl::StatusOr<Qcow2Info> v2 = InspectQcow2Bytes(Header().Version(2).Build());
  REQUIRE(v2.ok());
  CHECK(v2->header_length == 72);
  CHECK_FALSE(v2->has_backing_file());
}

TEST_CASE("InspectQcow2Bytes survives random corruption", "[storage][qcow2][fuzz]") {
  // Deterministic: fixed seed, so a failure replays. Run under MINICLOUD_SANITIZE for teeth.
  const std::vector<std::string> seeds = {
      Header().Build(),
      Header().Version(2).Build(),
      Header().Extension(kExtBackingFormat, "qcow2").Backing("/images/base").Build(),
      Header().ClusterBits(9).Size(1 << 20).Extension(0x6803f857, std::string(48, 'f')).Build(),
  };
  std::mt19937_64 rng(20240601);
  int accepted = 0;
  // MINICLOUD_FUZZ_ITERATIONS=1000000 for a longer soak.
  const char* env = std::getenv("MINICLOUD_FUZZ_ITERATIONS");
  const long iterations = env != nullptr ? std::atol(env) : 20000;
  for (long iter = 0; iter < iterations; ++iter) {
    std::string b = seeds[iter % seeds.size()];
    const int flips = 1 + static_cast<int>(rng() % 8);
    for (int i = 0; i < flips; ++i) {
      switch (rng() % 4) {
        case 0:  // random byte
          b[rng() % b.size()] = static_cast<char>(rng());
          break;
        case 1:  // extreme 32-bit value at a 4-aligned field
          if (b.size() >= 8) {
            const size_t at = (rng() % (b.size() / 4 - 1)) * 4;
            b.replace(at, 4, Be32(rng() % 2 ? 0xffffffffu : static_cast<uint32_t>(rng())));
          }
          break;
        case 2:  // truncate
          b.resize(rng() % (b.size() + 1));
          break;
        default:  // extend with junk
          b.append(rng() % 64, static_cast<char>(rng()));
      }
      if (b.empty()) b = "Q";
    }
    absl::StatusOr<Qcow2Info> info = InspectQcow2Bytes(b);
    if (info.ok()) {
      ++accepted;
      CHECK(info->cluster_bits >= 9);
      CHECK(info->cluster_bits <= 21);
      CHECK(info->backing_file.size() <= 1023);
    } else {
      CHECK(info.status().code() == absl::StatusCode::kInvalidArgument);
    }
  }
  CHECK(accepted > 0);  // the mutator is not so harsh that nothing survives
}

}  // namespace
}  // namespace minicloud::storage
