// The VolumeBackend contract on the in-memory fake, plus its failure injection.
#include <memory>

#include "tests/unit/volume/volume_backend_contract.h"
#include "volume/backend/fake/fake_volume_backend.h"

namespace minicloud::volume {
namespace {

class FakeFixture {
 public:
  VolumeBackend& backend() { return *backend_; }
  void Restart() { backend_ = std::make_unique<FakeVolumeBackend>(state_); }

 private:
  std::shared_ptr<FakeVolumeState> state_ = std::make_shared<FakeVolumeState>();
  std::unique_ptr<FakeVolumeBackend> backend_ = std::make_unique<FakeVolumeBackend>(state_);
};

VOLUME_BACKEND_CONTRACT_TESTS(FakeFixture, "volume fake")

// Catches: FailNext not failing the next call, failing more than one, or changing state.
TEST_CASE("volume fake: FailNext fails exactly the next call and changes nothing") {
  FakeVolumeBackend b;
  b.FailNext("CreateVolume", absl::UnavailableError("injected"));
  CHECK(b.CreateVolume({"vol-a", 1 << 20, ""}).status().code() == absl::StatusCode::kUnavailable);
  CHECK(b.ListVolumes()->empty());
  CHECK(b.CreateVolume({"vol-a", 1 << 20, ""}).ok());
}

}  // namespace
}  // namespace minicloud::volume
