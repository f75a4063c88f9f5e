#pragma once

// THE contract test suite of VolumeBackend (volume/backend/volume_backend.h), run against every
// implementation. A test file defines a fixture class with
//   VolumeBackend& backend();   // the backend under test
//   void Restart();             // the backend object is destroyed and opened again on the
//                               // same state (for the qsd backend: a new daemon process)
// and expands VOLUME_BACKEND_CONTRACT_TESTS(Fixture, "name"). Each case names the one-line bug
// it catches. Data over NBD is proved by the qsd tests (qsd_backend_test.cc): the fake keeps none.

#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "volume/backend/volume_backend.h"

namespace minicloud::volume::contract {

inline constexpr uint64_t kMiB = 1024 * 1024;

template <typename T>
const T& Ok(const absl::StatusOr<T>& s) {
  INFO(s.status().ToString());
  REQUIRE(s.ok());
  return *s;
}

inline void RequireOk(const absl::Status& s) {
  INFO(s.ToString());
  REQUIRE(s.ok());
}

template <typename S>
absl::StatusCode Code(const S& s) {
  if constexpr (std::is_same_v<S, absl::Status>) {
    return s.code();
  } else {
    return s.status().code();
  }
}

}  // namespace minicloud::volume::contract

// clang-format off
#define VOLUME_BACKEND_CONTRACT_TESTS(Fixture, Name)                                              \
  /* Catches: a repeated CreateVolume failing or creating a second volume; other parameters  */  \
  /* under the same id silently accepted.                                                     */  \
  TEST_CASE_METHOD(Fixture, Name ": create is idempotent by id", "[contract]") {                  \
    using namespace ::minicloud::volume;                                                          \
    using namespace ::minicloud::volume::contract;                                                \
    VolumeInfo v = Ok(backend().CreateVolume({"vol-a", 64 * kMiB, ""}));                          \
    CHECK(v.volume_id == "vol-a");                                                                \
    CHECK(v.size_bytes == 64 * kMiB);                                                             \
    CHECK_FALSE(v.exported);                                                                      \
    CHECK(Ok(backend().CreateVolume({"vol-a", 64 * kMiB, ""})).size_bytes == 64 * kMiB);          \
    CHECK(Code(backend().CreateVolume({"vol-a", 128 * kMiB, ""})) ==                              \
          absl::StatusCode::kAlreadyExists);                                                      \
    CHECK(Ok(backend().ListVolumes()).size() == 1);                                               \
  }                                                                                               \
  /* Catches: an id that could name a path (or a QEMU option) accepted; a size QEMU would   */   \
  /* round accepted.                                                                          */  \
  TEST_CASE_METHOD(Fixture, Name ": bad ids and sizes are InvalidArgument", "[contract]") {       \
    using namespace ::minicloud::volume;                                                          \
    using namespace ::minicloud::volume::contract;                                                \
    for (const char* id : {"", "../x", "a/b", "1vol", "vol,x", "vol_x", "vol x"}) {               \
      INFO(id);                                                                                   \
      CHECK(Code(backend().CreateVolume({id, kMiB, ""})) == absl::StatusCode::kInvalidArgument);  \
      CHECK(Code(backend().CreateSnapshot("vol-a", id)) == absl::StatusCode::kInvalidArgument);   \
    }                                                                                             \
    CHECK(Code(backend().CreateVolume({std::string(65, 'v'), kMiB, ""})) ==                       \
          absl::StatusCode::kInvalidArgument);                                                    \
    for (uint64_t size : {uint64_t{0}, uint64_t{1000}, kMaxVolumeBytes + 512}) {                  \
      INFO(size);                                                                                 \
      CHECK(Code(backend().CreateVolume({"vol-s", size, ""})) ==                                  \
            absl::StatusCode::kInvalidArgument);                                                  \
    }                                                                                             \
    CHECK(Ok(backend().ListVolumes()).empty());                                                   \
  }                                                                                               \
  /* Catches: deleting a missing volume failing (a retried delete must succeed); deleting an */  \
  /* exported volume (a host may still write it); a volume delete taking its snapshots.     */   \
  TEST_CASE_METHOD(Fixture, Name ": delete rules", "[contract]") {                                \
    using namespace ::minicloud::volume;                                                          \
    using namespace ::minicloud::volume::contract;                                                \
    RequireOk(backend().DeleteVolume("vol-none"));                                                \
    RequireOk(backend().DeleteSnapshot("snap-none"));                                             \
    Ok(backend().CreateVolume({"vol-d", 32 * kMiB, ""}));                                         \
    Ok(backend().CreateSnapshot("vol-d", "snap-d"));                                              \
    Ok(backend().Export("vol-d"));                                                                \
    CHECK(Code(backend().DeleteVolume("vol-d")) == absl::StatusCode::kFailedPrecondition);        \
    CHECK(Ok(backend().GetVolume("vol-d")).exported);                                             \
    RequireOk(backend().Unexport("vol-d"));                                                       \
    RequireOk(backend().Unexport("vol-d"));                                                       \
    RequireOk(backend().DeleteVolume("vol-d"));                                                   \
    CHECK(Code(backend().GetVolume("vol-d")) == absl::StatusCode::kNotFound);                     \
    auto snaps = Ok(backend().ListSnapshots());                                                   \
    REQUIRE(snaps.size() == 1);                                                                   \
    CHECK(snaps[0].snapshot_id == "snap-d");                                                      \
    CHECK(snaps[0].volume_id == "vol-d");                                                         \
    CHECK(snaps[0].size_bytes == 32 * kMiB);                                                      \
    /* A clone of a snapshot whose volume is gone still works. */                                 \
    CHECK(Ok(backend().CreateVolume({"vol-e", 0, "snap-d"})).size_bytes == 32 * kMiB);            \
  }                                                                                               \
  /* Catches: a snapshot id reused for another volume; a snapshot of a missing volume         */ \
  /* created; a clone smaller than its snapshot accepted; a missing source not NotFound.      */ \
  TEST_CASE_METHOD(Fixture, Name ": snapshots and clones", "[contract]") {                        \
    using namespace ::minicloud::volume;                                                          \
    using namespace ::minicloud::volume::contract;                                                \
    Ok(backend().CreateVolume({"vol-a", 64 * kMiB, ""}));                                         \
    Ok(backend().CreateVolume({"vol-b", 64 * kMiB, ""}));                                         \
    SnapshotInfo s = Ok(backend().CreateSnapshot("vol-a", "snap-1"));                             \
    CHECK(s.snapshot_id == "snap-1");                                                             \
    CHECK(s.volume_id == "vol-a");                                                                \
    CHECK(s.size_bytes == 64 * kMiB);                                                             \
    CHECK(Ok(backend().CreateSnapshot("vol-a", "snap-1")).volume_id == "vol-a");                  \
    CHECK(Code(backend().CreateSnapshot("vol-b", "snap-1")) == absl::StatusCode::kAlreadyExists); \
    CHECK(Code(backend().CreateSnapshot("vol-x", "snap-2")) == absl::StatusCode::kNotFound);      \
    CHECK(Code(backend().CreateVolume({"vol-c", 0, "snap-x"})) == absl::StatusCode::kNotFound);   \
    CHECK(Code(backend().CreateVolume({"vol-c", 32 * kMiB, "snap-1"})) ==                         \
          absl::StatusCode::kInvalidArgument);                                                    \
    VolumeInfo c = Ok(backend().CreateVolume({"vol-c", 128 * kMiB, "snap-1"}));                   \
    CHECK(c.size_bytes == 128 * kMiB);                                                            \
    CHECK(c.snapshot_id == "snap-1");                                                             \
    CHECK(Ok(backend().CreateVolume({"vol-c", 128 * kMiB, "snap-1"})).size_bytes == 128 * kMiB);  \
    CHECK(Code(backend().CreateVolume({"vol-c", 0, ""})) == absl::StatusCode::kInvalidArgument);  \
    CHECK(Ok(backend().ListSnapshots()).size() == 1);                                             \
    CHECK(Ok(backend().ListVolumes()).size() == 3);                                               \
  }                                                                                               \
  /* Catches: deleting a snapshot that a clone or a later snapshot builds on breaking them;  */  \
  /* the deleted id still listed.                                                             */  \
  TEST_CASE_METHOD(Fixture, Name ": a snapshot with dependents can be deleted", "[contract]") {   \
    using namespace ::minicloud::volume;                                                          \
    using namespace ::minicloud::volume::contract;                                                \
    Ok(backend().CreateVolume({"vol-a", 16 * kMiB, ""}));                                         \
    Ok(backend().CreateSnapshot("vol-a", "snap-1"));                                              \
    Ok(backend().CreateSnapshot("vol-a", "snap-2"));                                              \
    Ok(backend().CreateVolume({"vol-c", 0, "snap-1"}));                                           \
    RequireOk(backend().DeleteSnapshot("snap-1"));                                                \
    auto snaps = Ok(backend().ListSnapshots());                                                   \
    REQUIRE(snaps.size() == 1);                                                                   \
    CHECK(snaps[0].snapshot_id == "snap-2");                                                      \
    CHECK(Ok(backend().GetVolume("vol-c")).size_bytes == 16 * kMiB);                              \
    CHECK(Ok(backend().CreateVolume({"vol-d", 0, "snap-2"})).size_bytes == 16 * kMiB);            \
    RequireOk(backend().DeleteVolume("vol-a"));                                                   \
    RequireOk(backend().DeleteSnapshot("snap-2"));                                                \
    CHECK(Ok(backend().ListSnapshots()).empty());                                                 \
    CHECK(Ok(backend().ListVolumes()).size() == 2);                                               \
  }                                                                                               \
  /* Catches: shrinking allowed; grow of an exported volume refused or dropping the export.  */  \
  TEST_CASE_METHOD(Fixture, Name ": grow", "[contract]") {                                        \
    using namespace ::minicloud::volume;                                                          \
    using namespace ::minicloud::volume::contract;                                                \
    Ok(backend().CreateVolume({"vol-g", 16 * kMiB, ""}));                                         \
    NbdEndpoint e = Ok(backend().Export("vol-g"));                                                \
    CHECK(Ok(backend().GrowVolume("vol-g", 48 * kMiB)).size_bytes == 48 * kMiB);                  \
    CHECK(Ok(backend().GrowVolume("vol-g", 48 * kMiB)).size_bytes == 48 * kMiB);                  \
    CHECK(Code(backend().GrowVolume("vol-g", 16 * kMiB)) == absl::StatusCode::kInvalidArgument);  \
    CHECK(Code(backend().GrowVolume("vol-x", 64 * kMiB)) == absl::StatusCode::kNotFound);         \
    VolumeInfo v = Ok(backend().GetVolume("vol-g"));                                              \
    CHECK(v.size_bytes == 48 * kMiB);                                                             \
    CHECK(v.exported);                                                                            \
    CHECK(Ok(backend().Export("vol-g")).Uri() == e.Uri());                                        \
  }                                                                                               \
  /* Catches: a second Export making a second endpoint; an export name other than the id;    */  \
  /* Export of a missing volume succeeding.                                                    */ \
  TEST_CASE_METHOD(Fixture, Name ": export", "[contract]") {                                      \
    using namespace ::minicloud::volume;                                                          \
    using namespace ::minicloud::volume::contract;                                                \
    Ok(backend().CreateVolume({"vol-x1", 16 * kMiB, ""}));                                        \
    NbdEndpoint e = Ok(backend().Export("vol-x1"));                                               \
    CHECK(e.export_name == "vol-x1");                                                             \
    CHECK(e.port > 0);                                                                            \
    CHECK(Ok(backend().Export("vol-x1")).Uri() == e.Uri());                                       \
    CHECK(Code(backend().Export("vol-none")) == absl::StatusCode::kNotFound);                     \
    BackendHealth h = backend().Health();                                                         \
    CHECK(h.healthy);                                                                             \
    CHECK(h.volumes == 1);                                                                        \
    CHECK(h.exports == 1);                                                                        \
  }                                                                                               \
  /* Catches: state kept only in memory (volumes, snapshots, sizes or exports lost on a       */ \
  /* restart of the process).                                                                 */ \
  TEST_CASE_METHOD(Fixture, Name ": state survives a restart", "[contract]") {                    \
    using namespace ::minicloud::volume;                                                          \
    using namespace ::minicloud::volume::contract;                                                \
    Ok(backend().CreateVolume({"vol-a", 16 * kMiB, ""}));                                         \
    Ok(backend().CreateSnapshot("vol-a", "snap-1"));                                              \
    Ok(backend().CreateVolume({"vol-c", 32 * kMiB, "snap-1"}));                                   \
    Ok(backend().GrowVolume("vol-a", 24 * kMiB));                                                 \
    NbdEndpoint e = Ok(backend().Export("vol-c"));                                                \
    Restart();                                                                                    \
    auto vols = Ok(backend().ListVolumes());                                                      \
    REQUIRE(vols.size() == 2);                                                                    \
    CHECK(vols[0].volume_id == "vol-a");                                                          \
    CHECK(vols[0].size_bytes == 24 * kMiB);                                                       \
    CHECK_FALSE(vols[0].exported);                                                                \
    CHECK(vols[1].volume_id == "vol-c");                                                          \
    CHECK(vols[1].snapshot_id == "snap-1");                                                       \
    CHECK(vols[1].exported);                                                                      \
    auto snaps = Ok(backend().ListSnapshots());                                                   \
    REQUIRE(snaps.size() == 1);                                                                   \
    CHECK(snaps[0].volume_id == "vol-a");                                                         \
    CHECK(backend().Health().exports == 1);                                                       \
    CHECK(Ok(backend().Export("vol-c")).export_name == e.export_name);                            \
}                                                                                               \
  /* Catches: a missing lock (calls from several threads losing or corrupting volumes).      */  \
  TEST_CASE_METHOD(Fixture, Name ": calls from several threads at once", "[contract]") {          \
    using namespace ::minicloud::volume;                                                          \
    using namespace ::minicloud::volume::contract;                                                \
    std::vector<std::thread> threads;                                                             \
    std::vector<absl::Status> results(12);                                                        \
    for (int t = 0; t < 4; ++t) {                                                                 \
      threads.emplace_back([&, t] {                                                               \
        for (int i = 0; i < 3; ++i) {                                                             \
          const std::string id = "vol-t" + std::to_string(t) + "i" + std::to_string(i);           \
          results[t * 3 + i] = backend().CreateVolume({id, kMiB, ""}).status();                   \
          if (results[t * 3 + i].ok()) {                                                          \
            results[t * 3 + i] = backend().CreateSnapshot(id, "snap-" + id.substr(4)).status();   \
          }                                                                                       \
        }                                                                                         \
      });                                                                                         \
    }                                                                                             \
    for (std::thread & th : threads) th.join();                                                   \
    for (const absl::Status& r : results) RequireOk(r);                                           \
    CHECK(Ok(backend().ListVolumes()).size() == 12);                                              \
    CHECK(Ok(backend().ListSnapshots()).size() == 12);                                            \
    Restart();                                                                                    \
    CHECK(Ok(backend().ListVolumes()).size() == 12);                                              \
    CHECK(Ok(backend().ListSnapshots()).size() == 12);                                            \
  }
// clang-format on
