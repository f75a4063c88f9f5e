// Identity documents are written by RunInstances and signed when the instance is delivered to
// its host (FleetService::WatchDesired): signatures verify, are the same bytes after a
// controller restart (agents keep what they hold), and the document keeps its first launch.
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include <catch2/catch.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_replace.h"
#include "controller/identity/identity_signer.h"
#include "controller/service/identity_document.h"
#include "tests/testing/controller_fixture.h"

namespace minicloud {
namespace {

using testing::ControllerFixture;

v1::GuestMetadata Delivered(ControllerFixture& f, const std::string& host, const std::string& id) {
  v1::WatchDesiredRequest w;
  w.set_host_id(host);
  w.set_known_generation(0);
  auto d = f.fleet->WatchDesired(w);
  REQUIRE(d.ok());
  for (const auto& di : d->instances()) {
    if (di.instance_id() == id) return di.metadata();
  }
  FAIL("instance " << id << " not delivered to " << host);
  return {};
}

// The PKCS#7 signingTime attribute of a base64 `pkcs7` body, as Unix seconds (-1 if absent).
int64_t SigningTime(const std::string& pkcs7_b64) {
  std::string der;
  if (!absl::Base64Unescape(absl::StrReplaceAll(pkcs7_b64, {{"\n", ""}}), &der)) return -1;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  PKCS7* p7 = d2i_PKCS7(nullptr, &p, static_cast<long>(der.size()));
  if (p7 == nullptr) return -1;
  int64_t out = -1;
  STACK_OF(PKCS7_SIGNER_INFO)* infos = PKCS7_get_signer_info(p7);
  if (infos != nullptr && sk_PKCS7_SIGNER_INFO_num(infos) == 1) {
    const ASN1_TYPE* t =
        PKCS7_get_signed_attribute(sk_PKCS7_SIGNER_INFO_value(infos, 0), NID_pkcs9_signingTime);
    std::tm tm{};
    if (t != nullptr && t->type == V_ASN1_UTCTIME && ASN1_TIME_to_tm(t->value.utctime, &tm) == 1) {
      out = timegm(&tm);
    }
  }
  PKCS7_free(p7);
  return out;
}

}  // namespace

TEST_CASE("identity documents are signed at delivery, deterministically",
          "[controller][identity]") {
  ControllerFixture f;
  const std::string host = f.AddHost();
  const std::string image = f.RegisterImage();
  auto run = f.compute->RunInstances(f.Run(image));
  REQUIRE(run.ok());
  const v1::Instance& inst = run->instances(0);
  const std::string id = inst.instance_id();

  {  // RunInstances records the document's fields only: no text, no RSA work under the lock.
    // Catches: the document text stored in the record again (~470 bytes per instance in every
    // synced write), or the pending time not recorded (no document would be delivered).
    std::lock_guard<std::mutex> lock(f.state->mu());
    const v1::InstanceRecord& r = f.state->instances().at(id);
    CHECK(r.identity_document().empty());
    CHECK(r.identity_pending_time_ms() == r.launch_time_ms());
    CHECK(r.identity_signature().empty());
    CHECK(r.identity_pkcs7().empty());
  }

  const v1::GuestMetadata first = Delivered(f, host, id);
  const std::string cert = f.signer->certificate_pem();
  CHECK(first.identity_document().find(absl::StrCat("\"instanceId\" : \"", id, "\"")) !=
        std::string::npos);
  CHECK(first.identity_document().find(absl::StrCat("\"privateIp\" : \"", inst.private_ip_address(),
                                                    "\"")) != std::string::npos);
  CHECK(
      identity::VerifyIdentitySignature(first.identity_document(), first.identity_signature(), cert)
          .ok());
  auto embedded = identity::VerifyIdentityPkcs7(first.identity_pkcs7(), cert);
  REQUIRE(embedded.ok());
  CHECK(*embedded == first.identity_document());
  CHECK(first.identity_rsa2048() == first.identity_pkcs7());

  SECTION("a restarted controller, hours later, delivers the same bytes") {
    f.clock.Advance(absl::Hours(5));
    f.Reopen();  // new FleetService: nothing cached
    const v1::GuestMetadata again = Delivered(f, host, id);
    CHECK(again.identity_document() == first.identity_document());
    CHECK(again.identity_signature() == first.identity_signature());
    CHECK(again.identity_pkcs7() == first.identity_pkcs7());
    CHECK(again.identity_rsa2048() == first.identity_rsa2048());
  }

  SECTION("stop and start keep the document of the first launch") {
    REQUIRE(f.Report(host, id, v1::OBSERVED_STATE_RUNNING).ok());
    v1::StopInstancesRequest stop;
    stop.add_instance_ids(id);
    REQUIRE(f.compute->StopInstances(stop).ok());
    REQUIRE(f.Report(host, id, v1::OBSERVED_STATE_SHUTOFF).ok());
    f.clock.Advance(absl::Minutes(3));
    v1::ReportStatusRequest alive;  // the host is still there
    alive.set_host_id(host);
    REQUIRE(f.fleet->ReportStatus(alive).ok());
    v1::StartInstancesRequest start;
    start.add_instance_ids(id);
    REQUIRE(f.compute->StartInstances(start).ok());
    const v1::GuestMetadata restarted = Delivered(f, host, id);
    CHECK(restarted.identity_document() == first.identity_document());
    CHECK(restarted.identity_pkcs7() == first.identity_pkcs7());
  }
}

TEST_CASE("signing time is the document's pendingTime", "[controller][identity]") {
  ControllerFixture f;
  v1::InstanceRecord r;
  r.set_instance_id("i-0123456789abcdef0");
  r.set_identity_pending_time_ms(1'700'000'123'456);
  const std::string doc = controller::IdentityDocumentOf(r);
  // Signed twice with the clock moved on in between: same bytes.
  auto a = f.signer->Sign(doc);
  f.clock.Advance(absl::Hours(30));
  auto b = f.signer->Sign(doc);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->pkcs7 == b->pkcs7);
  CHECK(a->signature == b->signature);
  CHECK(SigningTime(a->pkcs7) == 1'700'000'123);  // the launch, to the second
  // A document without a pendingTime is refused, not signed with some other time.
  CHECK_FALSE(f.signer->Sign("{}").ok());
}

}  // namespace minicloud
