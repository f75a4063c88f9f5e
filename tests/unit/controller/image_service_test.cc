// RegisterImage takes uploaded bytes and checks them as they arrive; FetchBlob's blobs go only
// to registered hosts, and only blobs of images.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "common/ec2_error.h"
#include "common/storage/sha256.h"
#include "tests/testing/controller_fixture.h"
#include "tests/testing/image_upload.h"

namespace minicloud::controller {
namespace {

using testing::ControllerFixture;
using testing::ReadFileBytes;
using testing::UploadImage;

std::string CodeOf(const absl::Status& s) { return Ec2CodeOf(s); }
std::string Sha(const std::string& bytes) { return *storage::Sha256Hex(bytes); }

// Files made once per fixture: qcow2 disks by qemu-img, a bzImage and an initramfs start.
struct Files {
  explicit Files(ControllerFixture& f) {
    const std::string base = f.dir / "base.qcow2";
    const std::string child = f.dir / "child.qcow2";
    const std::string raw = f.dir / "disk.raw";
    REQUIRE(std::system(("qemu-img create -q -f qcow2 " + base + " 16M").c_str()) == 0);
    REQUIRE(std::system(
                ("qemu-img create -q -f qcow2 -b " + base + " -F qcow2 " + child).c_str()) == 0);
    REQUIRE(std::system(("qemu-img create -q -f raw " + raw + " 1M").c_str()) == 0);
    qcow2 = ReadFileBytes(base);
    with_backing = ReadFileBytes(child);
    raw_disk = ReadFileBytes(raw);
    kernel = std::string(8192, '\0');
    kernel[0x1FE] = '\x55';
    kernel[0x1FF] = '\xaa';
    kernel.replace(0x202, 4, "HdrS");
    kernel[0x206] = '\x0f';
    kernel[0x207] = '\x02';
    ramdisk = "070701" + std::string(104, '0') + "init" + std::string(4, '\0') + "#!/bin/sh\n";
  }
  std::string qcow2, with_backing, raw_disk, kernel, ramdisk;
};

const std::string kSecret = "root:$6$abcdefgh$0123456789:19000:0:99999:7:::\n";

// Everything in the blob store directory (committed blobs and temp files).
std::vector<std::string> BlobDirEntries(ControllerFixture& f) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(f.dir / "blobs")) {
    out.push_back(e.path().filename().string());
  }
  return out;
}

v1::RegisterImageRequest Named(const std::string& name) {
  v1::RegisterImageRequest req;
  req.set_name(name);
  return req;
}

TEST_CASE("RegisterImage checks the uploaded bytes and keeps nothing it refuses", "[images]") {
  ControllerFixture f;
  const Files files(f);
  struct Case {
    std::string name;
    std::function<v1::RegisterImageRequest()> request;
    std::string disk, kernel, ramdisk;
    std::string code;
    std::string fragment;
  };
  auto req = [](std::function<void(v1::RegisterImageRequest&)> edit) {
    return [edit] {
      v1::RegisterImageRequest r = Named("img");
      edit(r);
      return r;
    };
  };
  auto plain = req([](auto&) {});
  const std::vector<Case> cases = {
      {"text disk", plain, "this is not a disk image\n", "", "", "InvalidParameterValue",
       "not a qcow2"},
      {"raw disk", plain, files.raw_disk, "", "", "InvalidParameterValue", "not a qcow2"},
      {"qcow2 with a backing file", plain, files.with_backing, "", "", "InvalidParameterValue",
       "backing file"},
      {"truncated qcow2", plain, files.qcow2.substr(0, 512), "", "", "InvalidParameterValue",
       "truncated"},
      {"kernel that is a secret", plain, files.qcow2, kSecret + std::string(1024, 'x'), "",
       "InvalidParameterValue", "not a Linux bzImage"},
      {"ramdisk that is a secret", plain, files.qcow2, files.kernel, kSecret,
       "InvalidParameterValue", "not an initramfs"},
      {"ramdisk without kernel", plain, files.qcow2, "", files.ramdisk, "InvalidParameterValue",
       "needs a kernel"},
      {"disk checksum mismatch", req([](auto& r) { r.set_sha256(std::string(64, '0')); }),
       files.qcow2, "", "", "InvalidParameterValue", "does not match the expected SHA-256"},
      {"kernel checksum mismatch after the disk is stored",
       req([](auto& r) { r.set_kernel_sha256(std::string(64, 'a')); }), files.qcow2, files.kernel,
       "", "InvalidParameterValue", "kernel does not match"},
      {"malformed checksum", req([](auto& r) { r.set_sha256("ab12"); }), files.qcow2, "", "",
       "InvalidParameterValue", "not 64 hex digits"},
      {"more bytes than declared",
       req([&](auto& r) { r.set_image_size_bytes(static_cast<int64_t>(files.qcow2.size())); }),
       files.qcow2 + "x", "", "", "InvalidParameterValue", "longer than the sizes"},
      {"fewer bytes than declared",
       req([&](auto& r) { r.set_image_size_bytes(static_cast<int64_t>(files.qcow2.size()) + 1); }),
       files.qcow2, "", "", "InvalidParameterValue", "ended after"},
      {"negative size", req([](auto& r) { r.set_kernel_size_bytes(-1); }), files.qcow2, "", "",
       "InvalidParameterValue", "outside"},
      {"bad name", req([](auto& r) { r.set_name("x"); }), files.qcow2, "", "",
       "InvalidParameterValue", "AMI name"},
      {"no disk", plain, "", "", "", "MissingParameter", "ImageSizeBytes"},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      auto resp = UploadImage(*f.images, c.request(), c.disk, c.kernel, c.ramdisk, 4096);
      REQUIRE_FALSE(resp.ok());
      CHECK(CodeOf(resp.status()) == c.code);
      const std::string msg(resp.status().message());
      CHECK_THAT(msg, Catch::Matchers::Contains(c.fragment));
      CHECK(msg.find("root:") == std::string::npos);
      CHECK(msg.find(f.dir.path()) == std::string::npos);  // no controller path
      CHECK(f.images->DescribeImages({})->images_size() == 0);
      CHECK(BlobDirEntries(f).empty());
    }
  }
}

TEST_CASE("RegisterImage stores the uploaded files by digest", "[images]") {
  ControllerFixture f;
  const Files files(f);
  v1::RegisterImageRequest req = Named("direct");
  req.set_sha256(Sha(files.qcow2));
  req.set_kernel_command_line("console=ttyS0");
  // Chunks that straddle the parts.
  auto resp = UploadImage(*f.images, req, files.qcow2, files.kernel, files.ramdisk, 1000);
  INFO(resp.status().message());
  REQUIRE(resp.ok());
  auto described = f.images->DescribeImages({});
  REQUIRE(described->images_size() == 1);
  const v1::Image& img = described->images(0);
  CHECK(img.sha256() == Sha(files.qcow2));
  CHECK(img.size_bytes() == static_cast<int64_t>(files.qcow2.size()));
  CHECK(img.virtual_size_bytes() == 16 << 20);
  CHECK(img.kernel_id() == Sha(files.kernel));
  CHECK(img.ramdisk_id() == Sha(files.ramdisk));
  CHECK(img.boot_mode() == "direct-kernel");
  for (const std::string* part : {&files.qcow2, &files.kernel, &files.ramdisk}) {
    auto path = f.blobs->PathOf(Sha(*part));
    REQUIRE(path.ok());
    CHECK(ReadFileBytes(*path) == *part);
  }
  CHECK(BlobDirEntries(f).size() == 3);  // no temp files left

  SECTION("the same name again is a duplicate") {
    CHECK(CodeOf(UploadImage(*f.images, req, files.qcow2).status()) == "InvalidAMIName.Duplicate");
  }
}

TEST_CASE("RegisterImage limits sizes and concurrent uploads", "[images]") {
  ControllerFixture f;
  const Files files(f);
  ImageService small(
      *f.state, f.clock, f.ids, *f.blobs,
      ImageLimits{.max_disk_bytes = 4096, .max_kernel_bytes = 4096, .max_ramdisk_bytes = 4096});
  v1::RegisterImageRequest big = Named("big");
  big.set_image_size_bytes(4097);
  auto refused = small.BeginRegisterImage(big);
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(std::string(refused.status().message()), Catch::Matchers::Contains("outside 0..4096"));

  v1::RegisterImageRequest one = Named("one");
  one.set_image_size_bytes(static_cast<int64_t>(files.qcow2.size()));
  std::vector<std::unique_ptr<ImageService::Registration>> open;
  for (int i = 0; i < ImageService::kMaxUploads; ++i) {
    auto r = f.images->BeginRegisterImage(one);
    REQUIRE(r.ok());
    open.push_back(*std::move(r));
  }
  CHECK(f.images->BeginRegisterImage(one).status().code() == absl::StatusCode::kResourceExhausted);
  open.pop_back();  // an abandoned upload frees its slot and leaves nothing
  CHECK(f.images->BeginRegisterImage(one).ok());
  open.clear();
  CHECK(BlobDirEntries(f).empty());
}

TEST_CASE("FetchBlob serves image blobs to registered hosts only", "[images][blobs]") {
  ControllerFixture f;
  const Files files(f);
  auto reg = UploadImage(*f.images, Named("ami-one"), files.qcow2, files.kernel, files.ramdisk);
  REQUIRE(reg.ok());
  const std::string host = f.AddHost();
  // A blob in the store that belongs to no image (as a leftover would).
  auto w = f.blobs->BeginWrite("");
  REQUIRE(w.ok());
  REQUIRE((*w)->Append(kSecret).ok());
  const std::string stray = (*w)->Commit()->sha256;

  auto fetch = [&](const std::string& host_id, const std::string& sha) {
    v1::FetchBlobRequest req;
    req.set_host_id(host_id);
    req.set_sha256(sha);
    return f.images->BlobForHost(req);
  };
  const std::string disk = Sha(files.qcow2);
  struct Case {
    const char* name;
    std::string host_id, sha256;
    absl::StatusCode code;
  };
  const std::vector<Case> cases = {
      {"disk of an image", host, disk, absl::StatusCode::kOk},
      {"kernel of an image", host, Sha(files.kernel), absl::StatusCode::kOk},
      {"ramdisk, upper case", host, absl::AsciiStrToUpper(Sha(files.ramdisk)),
       absl::StatusCode::kOk},
      {"no host id", "", disk, absl::StatusCode::kPermissionDenied},
      {"unregistered host", "h-00000000", disk, absl::StatusCode::kPermissionDenied},
      {"stored blob of no image", host, stray, absl::StatusCode::kNotFound},
      {"not a digest", host, "../../etc/shadow", absl::StatusCode::kNotFound},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      auto got = fetch(c.host_id, c.sha256);
      CHECK(got.status().code() == c.code);
    }
  }

  SECTION("a deregistered image's blobs stay for the hosts that run it") {
    auto run = f.compute->RunInstances(f.Run(reg->image_id()));
    REQUIRE(run.ok());
    const std::string other = f.AddHost();
    v1::DeregisterImageRequest dereg;
    dereg.set_image_id(reg->image_id());
    const std::string id = run->instances(0).instance_id();
    auto desired_disk = [&] {
      v1::WatchDesiredRequest w;
      w.set_host_id(host);
      auto d = f.fleet->WatchDesired(w);
      REQUIRE(d.ok());
      REQUIRE(d->instances_size() == 1);
      return d->instances(0).image().sha256();
    };
    {
      // Catches: RunInstances copying the AMI's boot files into every record again (~250 bytes
      // per instance in each synced write).
      std::lock_guard<std::mutex> lock(f.state->mu());
      CHECK_FALSE(f.state->instances().at(id).has_image());
    }
    // Catches: the desired state taking the record's (empty) image instead of the AMI's.
    CHECK(desired_disk() == disk);
    REQUIRE(f.images->DeregisterImage(dereg).ok());
    CHECK(fetch(host, disk).ok());
    CHECK(fetch(other, disk).status().code() == absl::StatusCode::kNotFound);
    // Catches: DeregisterImage not copying the boot files into the records that used the AMI's
    // (after a restart the host would be told to boot nothing and refused the disk).
    f.Reopen();
    CHECK(desired_disk() == disk);
    CHECK(fetch(host, disk).ok());
  }
}

}  // namespace
}  // namespace minicloud::controller
