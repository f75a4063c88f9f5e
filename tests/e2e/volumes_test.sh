#!/usr/bin/env bash
# EBS volumes on a local cloud: `deploy/cloud up` starts one minicloud-volumed per availability
# zone that has a host and hands each to the controller with --volume-service; `down` stops them.
# No guest boots.
#
#   * create-volume in each zone is made on that zone's volume service (its manifest names the
#     volume) and is `available`; describe-volumes shows the size; modify-volume grows it;
#     delete-volume removes it from the service;
#   * a zone without a host has no volume service (InsufficientVolumeCapacity is not reachable
#     there: the zone is unknown, InvalidParameterValue);
#   * `down` leaves no minicloud-volumed or qemu-storage-daemon of this cloud running.
#
# Bugs caught (one line each): `up` not passing --volume-service (create-volume answers
# InsufficientVolumeCapacity); the second zone's daemon given the first zone's name (the
# controller refuses to start); volumed's state outside the cloud's home (the manifest check);
# `down` not stopping the daemons (the process checks at the end).
source "$(dirname "$0")/lib.sh"

command -v qemu-storage-daemon >/dev/null || { echo "SKIPPED: no qemu-storage-daemon"; exit 77; }
cloud_up --hosts 2 --azs 2 --no-egress

manifest_has() { grep -q "\"$2\"" "$MINICLOUD_HOME/volumed-$1/manifest.json"; }

for zone in home-1a home-1b; do
  vol=$("$MC" create-volume --availability-zone "$zone" --size 1 | jq -r .VolumeId) ||
    fail "create-volume in $zone"
  [[ $vol == vol-* ]] || fail "create-volume in $zone: no volume id"
  for _ in $(seq 1 20); do
    state=$("$MC" describe-volumes --volume-ids "$vol" | jq -r '.Volumes[0].State')
    [[ $state == available ]] && break
    sleep 1
  done
  assert_eq "$state" available "state of $vol"
  manifest_has "$zone" "$vol" || fail "$vol not in the $zone volume service's manifest"
  "$MC" modify-volume --volume-id "$vol" --size 2 >/dev/null || fail "modify-volume $vol"
  assert_eq "$("$MC" describe-volumes --volume-ids "$vol" | jq -r '.Volumes[0].Size')" 2 "size of $vol"
  "$MC" delete-volume --volume-id "$vol" >/dev/null || fail "delete-volume $vol"
  for _ in $(seq 1 20); do manifest_has "$zone" "$vol" || break; sleep 1; done
  manifest_has "$zone" "$vol" && fail "$vol still on the $zone volume service after delete"
  log "ok: $zone: $vol created, grown, deleted on its volume service"
done
expect_error InvalidParameterValue "$MC" create-volume --availability-zone home-1c --size 1

"$REPO/deploy/cloud" down >/dev/null || fail "cloud down"
pgrep -f "minicloud-volumed.*$MINICLOUD_HOME" && fail "a minicloud-volumed outlived down"
pgrep -f "qemu-storage-daemon.*$MINICLOUD_HOME" && fail "a qemu-storage-daemon outlived down"
log "PASS"
