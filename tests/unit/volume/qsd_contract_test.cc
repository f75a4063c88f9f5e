// The VolumeBackend contract on the qsd backend: a real qemu-storage-daemon per test case.
#include "tests/unit/volume/qsd_test_util.h"

namespace minicloud::volume::testing {
namespace {

VOLUME_BACKEND_CONTRACT_TESTS(QsdFixture, "volume qsd")

}  // namespace
}  // namespace minicloud::volume::testing
