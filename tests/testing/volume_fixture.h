#pragma once

// What the controller's volume tests share: a controller over the real store (ControllerFixture),
// a fake volume service (FakeVolumeService) as the volume service of the zones the test adds to
// `fleet`, and the VolumeService over both. A test derives its fixture from it, adds its zones and
// hosts, calls OpenVolumes and wires the hooks it needs.

#include <catch2/catch.hpp>
#include <memory>
#include <mutex>
#include <string>

#include "controller/service/volume_service.h"
#include "tests/testing/controller_fixture.h"
#include "tests/testing/fake_volume_service.h"

namespace minicloud::testing {

struct VolumeFixture {
  ControllerFixture ctl;
  std::shared_ptr<FakeVolumeService> backend = std::make_shared<FakeVolumeService>();
  controller::VolumeFleet fleet;
  std::unique_ptr<controller::VolumeService> volumes;

  // A new VolumeService over the controller's state; with `restart`, the controller restarts
  // first (ControllerFixture::Reopen), as after a crash. The old VolumeService goes before.
  void OpenVolumes(bool restart = false) {
    volumes.reset();
    if (restart) ctl.Reopen();
    volumes = std::make_unique<controller::VolumeService>(*ctl.state, ctl.clock, ctl.ids, fleet);
  }

  // DescribeVolumes of one volume, as the API answers it.
  v1::Volume DescribeVolume(const std::string& volume_id) {
    v1::DescribeVolumesRequest d;
    d.add_volume_ids(volume_id);
    auto resp = volumes->DescribeVolumes(d);
    REQUIRE(resp.ok());
    REQUIRE(resp->volumes_size() == 1);
    return resp->volumes(0);
  }

  // The volume's stored record; the volume must exist.
  v1::VolumeRecord Record(const std::string& volume_id) {
    std::lock_guard<std::mutex> lock(ctl.state->mu());
    auto it = ctl.state->volumes().find(volume_id);
    REQUIRE(it != ctl.state->volumes().end());
    return it->second;
  }
};

}  // namespace minicloud::testing
