#pragma once

// EC2's limits on what an instance is given, in one place: the controller validates requests
// against them and the agent's metadata service re-checks what it is about to serve.

#include <cstddef>
#include <cstdint>

namespace minicloud::limits {

// User data: at most 16 KiB of raw bytes, before base64 (EC2 RunInstances reference).
inline constexpr size_t kMaxUserDataBytes = 16 * 1024;

// InstanceMetadataOptions.HttpPutResponseHopLimit: 1..64, default 1.
inline constexpr int kMinHopLimit = 1;
inline constexpr int kMaxHopLimit = 64;
inline constexpr int kDefaultHopLimit = 1;

// Placement groups: partitions 1..7 per partition group, at most 7 running instances per
// availability zone in a spread group.
inline constexpr int kMaxPartitions = 7;
inline constexpr int kMaxSpreadInstancesPerAz = 7;

// Instance tags: 50 per resource, keys 1..128 characters, values up to 256
// (EC2 user guide, "Tag restrictions").
inline constexpr int kMaxTagsPerResource = 50;
inline constexpr size_t kMaxTagKeyLength = 128;
inline constexpr size_t kMaxTagValueLength = 256;

// RunInstances ClientToken: up to 64 ASCII characters.
inline constexpr size_t kMaxClientTokenLength = 64;

// GetConsoleOutput returns the most recent 64 KiB.
inline constexpr int64_t kConsoleOutputBytes = 64 * 1024;

}  // namespace minicloud::limits
