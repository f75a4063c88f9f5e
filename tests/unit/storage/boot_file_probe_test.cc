#include "common/storage/boot_file_probe.h"

#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace minicloud::storage {
namespace {

// The start of a bzImage: boot sector flag, "HdrS", boot protocol version.
struct KernelBuilder {
  size_t size = kKernelProbeBytes;
  uint16_t boot_flag = 0xAA55;
  std::string magic = "HdrS";
  uint16_t version = 0x020f;
  std::string Build() const {
    std::string b(size, '\0');
    auto put16 = [&](size_t off, uint16_t v) {
      if (off + 2 > b.size()) return;
      b[off] = static_cast<char>(v & 0xff);
      b[off + 1] = static_cast<char>(v >> 8);
    };
    put16(0x1FE, boot_flag);
    if (0x206 <= b.size()) b.replace(0x202, 4, magic.substr(0, 4));
    put16(0x206, version);
    return b;
  }
};

// A cpio "newc" archive holding one file (enough of one for the probe).
std::string Cpio(const std::string& magic = "070701") {
  std::string h = magic + std::string(104, '0') + "init" + std::string(4, '\0');
  return h + "#!/bin/sh\n" + std::string(256, 'x');
}

std::string Gzip(const std::string& in) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&z, in.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string Xz(const std::string& in) {
  std::string out(in.size() + 1024, '\0');
  size_t pos = 0;
  REQUIRE(lzma_easy_buffer_encode(
              6, LZMA_CHECK_CRC32, nullptr, reinterpret_cast<const uint8_t*>(in.data()), in.size(),
              reinterpret_cast<uint8_t*>(out.data()), &pos, out.size()) == LZMA_OK);
  out.resize(pos);
  return out;
}

std::string Zstd(const std::string& in) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  const size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 19);
  REQUIRE_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

// Flips bytes in the middle of compressed data (after the magic).
std::string Corrupt(std::string s) {
  for (size_t i = 12; i < s.size() && i < 40; ++i) s[i] = static_cast<char>(s[i] ^ 0x5a);
  return s;
}

TEST_CASE("ProbeKernel accepts a bzImage header only", "[storage][probe]") {
  struct Case {
    const char* name;
    std::string bytes;
    bool ok;
  };
  KernelBuilder good;
  KernelBuilder no_flag;
  no_flag.boot_flag = 0;
  KernelBuilder no_magic;
  no_magic.magic = "HdrX";
  KernelBuilder old;
  old.version = 0x0105;
  KernelBuilder short_file;
  short_file.size = 0x207;
  const std::vector<Case> cases = {
      {"bzImage", good.Build(), true},
      {"just long enough", KernelBuilder{.size = 0x208}.Build(), true},
      {"no boot sector flag", no_flag.Build(), false},
      {"no HdrS", no_magic.Build(), false},
      {"boot protocol 1.05", old.Build(), false},
      {"cut before the version", short_file.Build(), false},
      {"empty", "", false},
      {"a private key", "-----BEGIN OPENSSH PRIVATE KEY-----\n" + std::string(2000, 'A'), false},
      {"an ELF vmlinux",
       "\x7f"
       "ELF" +
           std::string(4000, '\0'),
       false},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      const absl::Status s = ProbeKernel(c.bytes);
      CHECK(s.ok() == c.ok);
      if (!c.ok) {
        CHECK(s.code() == absl::StatusCode::kInvalidArgument);
        CHECK_THAT(std::string(s.message()), Catch::Matchers::Contains("not a Linux bzImage"));
      }
    }
  }
}

TEST_CASE("ProbeRamdisk accepts what the kernel unpacks as an initramfs", "[storage][probe]") {
  struct Case {
    const char* name;
    std::string bytes;
    std::optional<RamdiskFormat> format;  // nullopt: refused
    std::string fragment;                 // of the refusal
  };
  const std::string secret = "root:$6$salt$hash:19000:0:99999:7:::\ndaemon:*:19000::::::\n";
  const std::vector<Case> cases = {
      {"cpio newc", Cpio(), RamdiskFormat::kCpio, ""},
      {"cpio crc", Cpio("070702"), RamdiskFormat::kCpio, ""},
      {"cpio after NUL padding", std::string(8, '\0') + Cpio(), RamdiskFormat::kCpio, ""},
      {"gzip cpio", Gzip(Cpio()), RamdiskFormat::kGzip, ""},
      {"xz cpio", Xz(Cpio()), RamdiskFormat::kXz, ""},
      {"zstd cpio", Zstd(Cpio()), RamdiskFormat::kZstd, ""},
      {"bzip2 magic", "BZh91AY&SY" + std::string(100, 'z'), RamdiskFormat::kBzip2, ""},
      {"lz4 legacy magic", std::string("\x02\x21\x4c\x18", 4) + std::string(100, 'z'),
       RamdiskFormat::kLz4, ""},
      {"lzma magic", std::string("\x5d\0\0\x80\0", 5) + std::string(100, 'z'), RamdiskFormat::kLzma,
       ""},
      {"lzo magic", std::string("\x89LZO\0\r\n\x1a\n", 9) + std::string(100, 'z'),
       RamdiskFormat::kLzo, ""},
      {"a shadow file", secret, std::nullopt, "unknown format"},
      {"gzip of a shadow file", Gzip(secret), std::nullopt, "does not start with a cpio header"},
      {"xz of text", Xz(std::string(600, 'a')), std::nullopt, "does not start with a cpio"},
      {"zstd of text", Zstd(std::string(600, 'a')), std::nullopt, "does not start with a cpio"},
      {"corrupt gzip", Corrupt(Gzip(Cpio() + std::string(4000, 'q'))), std::nullopt, "gzip"},
      {"corrupt xz", Corrupt(Xz(Cpio() + std::string(4000, 'q'))), std::nullopt, "xz"},
      {"corrupt zstd", Corrupt(Zstd(Cpio() + std::string(4000, 'q'))), std::nullopt, "zstd"},
      {"gzip cut after its header", Gzip(Cpio()).substr(0, 10), std::nullopt, "too short"},
      {"old portable cpio", Cpio("070707"), std::nullopt, "old portable format"},
      {"misaligned padding", std::string(3, '\0') + Cpio(), std::nullopt, "misaligned"},
      {"only NULs", std::string(64, '\0'), std::nullopt, "no data"},
      {"empty", "", std::nullopt, "no data"},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      const auto got = ProbeRamdisk(c.bytes);
      if (c.format) {
        INFO(got.status().message());
        REQUIRE(got.ok());
        CHECK(*got == *c.format);
      } else {
        REQUIRE_FALSE(got.ok());
        CHECK(got.status().code() == absl::StatusCode::kInvalidArgument);
        const std::string msg(got.status().message());
        CHECK_THAT(msg, Catch::Matchers::Contains("not an initramfs"));
        CHECK_THAT(msg, Catch::Matchers::Contains(c.fragment));
        CHECK(msg.find("root:") == std::string::npos);  // never echoes the bytes
      }
    }
  }
}

}  // namespace
}  // namespace minicloud::storage
