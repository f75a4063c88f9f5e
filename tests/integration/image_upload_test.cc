// Image files reach the controller only as uploaded bytes, and leave it only to registered
// hosts, through the real gRPC services.
#include "tests/testing/image_upload.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <string>

#include "common/storage/sha256.h"
#include "minicloud/v1/host.grpc.pb.h"
#include "tests/testing/test_cloud.h"

namespace minicloud {
namespace {

using testing::ReadFileBytes;
using testing::TestCloud;

const std::string kSecret =
    "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIDoNotLeakThisKeyAnywhere0000000000000\n"
    "-----END PRIVATE KEY-----\n";

std::string Sha(const std::string& bytes) { return *storage::Sha256Hex(bytes); }

// A protobuf length-delimited field, as the wire format encodes it.
std::string Field(int number, const std::string& value) {
  std::string out(1, static_cast<char>((number << 3) | 2));
  size_t n = value.size();
  while (n >= 0x80) {
    out.push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
  return out + value;
}

// A small qcow2 and a file with a bzImage's header, as local files of the test.
struct LocalFiles {
  explicit LocalFiles(const std::string& dir)
      : disk(dir + "/disk.qcow2"), kernel(dir + "/vmlinuz"), secret(dir + "/identity.key") {
    REQUIRE(std::system(("qemu-img create -q -f qcow2 " + disk + " 16M").c_str()) == 0);
    std::string k(8192, '\0');
    k[0x1FE] = '\x55';
    k[0x1FF] = '\xaa';
    k.replace(0x202, 4, "HdrS");
    k[0x206] = '\x0f';
    k[0x207] = '\x02';
    std::ofstream(kernel, std::ios::binary) << k;
    std::ofstream(secret, std::ios::binary) << kSecret;
  }
  std::string disk, kernel, secret;
};

// RegisterImage over gRPC: the request, then the parts' bytes in 64 KiB messages.
grpc::Status Upload(TestCloud& cloud, v1::RegisterImageRequest req, const std::string& disk,
                    const std::string& kernel, const std::string& ramdisk,
                    v1::RegisterImageResponse* resp) {
  req.set_image_size_bytes(static_cast<int64_t>(disk.size()));
  req.set_kernel_size_bytes(static_cast<int64_t>(kernel.size()));
  req.set_ramdisk_size_bytes(static_cast<int64_t>(ramdisk.size()));
  grpc::ClientContext ctx;
  cloud.Sign(ctx, "RegisterImage", nullptr);
  auto w = cloud.api().RegisterImage(&ctx, resp);
  v1::RegisterImageUpload msg;
  *msg.mutable_request() = req;
  bool open = w->Write(msg);
  const std::string all = disk + kernel + ramdisk;
  for (size_t off = 0; open && off < all.size(); off += 65536) {
    msg.set_data(all.substr(off, 65536));
    open = w->Write(msg);
  }
  if (open) w->WritesDone();
  return w->Finish();
}

TEST_CASE("RegisterImage never opens a file a caller names", "[integration][images]") {
  TestCloud cloud;
  const LocalFiles files(cloud.controller().dir.path());

  SECTION("a request naming controller paths (the former image/kernel/ramdisk locations)") {
    // The bytes a client of the path-based API sends: name (1), image_location (5),
    // kernel_location (7) and ramdisk_location (8), here with the ramdisk naming a secret.
    const std::string legacy =
        Field(1, "leak") + Field(5, files.disk) + Field(7, files.kernel) + Field(8, files.secret);
    grpc::GenericStub stub(
        grpc::CreateChannel(cloud.endpoint(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    cloud.Sign(ctx, "RegisterImage", nullptr);  // signed, so the refusal is the request's own
    grpc::CompletionQueue cq;
    grpc::Slice slice(legacy);
    grpc::ByteBuffer request(&slice, 1), response;
    auto call =
        stub.PrepareUnaryCall(&ctx, "/minicloud.v1.ComputeService/RegisterImage", request, &cq);
    call->StartCall();
    grpc::Status status;
    call->Finish(&response, &status, reinterpret_cast<void*>(1));
    void* tag = nullptr;
    bool ok = false;
    REQUIRE(cq.Next(&tag, &ok));
    cq.Shutdown();
    while (cq.Next(&tag, &ok)) {
    }
    CHECK_FALSE(status.ok());
    CHECK(status.error_message().find(files.secret) == std::string::npos);
  }

  SECTION("a secret uploaded as a ramdisk is refused, and its bytes are not echoed") {
    v1::RegisterImageRequest req;
    req.set_name("leak");
    v1::RegisterImageResponse resp;
    const grpc::Status status =
        Upload(cloud, req, ReadFileBytes(files.disk), ReadFileBytes(files.kernel), kSecret, &resp);
    CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(status.error_details() == "InvalidParameterValue");
    CHECK_THAT(status.error_message(), Catch::Matchers::Contains("not an initramfs"));
    CHECK(status.error_message().find("PRIVATE KEY") == std::string::npos);
  }

  // Whatever happened above: nothing was registered and the secret is not a blob.
  CHECK(cloud.controller().images->DescribeImages({})->images_size() == 0);
  CHECK_FALSE(cloud.controller().blobs->PathOf(Sha(kSecret)).ok());
}

TEST_CASE("FetchBlob serves image blobs to registered hosts only", "[integration][images]") {
  TestCloud cloud;
  auto& host = cloud.AddHost("home-1a", "rack-1");
  REQUIRE(TestCloud::Eventually([&] { return !host.agent->host_id().empty(); }));
  const LocalFiles files(cloud.controller().dir.path());
  const std::string disk = ReadFileBytes(files.disk);
  v1::RegisterImageRequest req;
  req.set_name("ami-fetch");
  v1::RegisterImageResponse resp;
  REQUIRE(Upload(cloud, req, disk, "", "", &resp).ok());
  // A stored blob that belongs to no image.
  auto w = cloud.controller().blobs->BeginWrite("");
  REQUIRE(w.ok());
  REQUIRE((*w)->Append(kSecret).ok());
  REQUIRE((*w)->Commit().ok());

  auto hosts = v1::HostService::NewStub(
      grpc::CreateChannel(cloud.endpoint(), grpc::InsecureChannelCredentials()));
  auto fetch = [&](const std::string& host_id, const std::string& sha, std::string* out) {
    grpc::ClientContext ctx;
    v1::FetchBlobRequest r;
    r.set_host_id(host_id);
    r.set_sha256(sha);
    auto reader = hosts->FetchBlob(&ctx, r);
    v1::BlobChunk chunk;
    while (reader->Read(&chunk)) *out += chunk.data();
    return reader->Finish();
  };
  struct Case {
    const char* name;
    std::string host_id, sha256;
    grpc::StatusCode code;
  };
  const std::vector<Case> cases = {
      {"the image's disk to its host", host.agent->host_id(), Sha(disk), grpc::StatusCode::OK},
      {"no host id", "", Sha(disk), grpc::StatusCode::PERMISSION_DENIED},
      {"an unknown host id", "h-ffffffff", Sha(disk), grpc::StatusCode::PERMISSION_DENIED},
      {"a blob of no image", host.agent->host_id(), Sha(kSecret), grpc::StatusCode::NOT_FOUND},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      std::string got;
      const grpc::Status s = fetch(c.host_id, c.sha256, &got);
      CHECK(s.error_code() == c.code);
      if (c.code == grpc::StatusCode::OK) CHECK(got == disk);
      if (c.code != grpc::StatusCode::OK) CHECK(got.empty());
    }
  }
}

}  // namespace
}  // namespace minicloud
