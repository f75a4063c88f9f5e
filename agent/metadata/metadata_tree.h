#pragma once

// The IMDS metadata tree (meta-data/ and dynamic/) for one instance and one metadata version:
// directory listings and leaf values. The HTTP rules around it (tokens, methods, error pages,
// the version list) are in handler.cc, which also lists the sources of both ([UG], [CI], [OBS]).

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "agent/metadata/instance_metadata.h"

namespace minicloud::metadata {

// Whether metadata `version` ("latest" or a dated version such as "2016-09-02") includes what
// was introduced in `since`.
bool VersionHas(absl::string_view version, absl::string_view since);

enum class MetadataTree { kMetaData, kDynamic };

// The listing or the value at `path` (decoded segments, empty = the tree's own listing) below
// `tree`; nullopt when nothing is there (404).
std::optional<std::string> ReadMetadataTree(const InstanceMetadata& m, absl::string_view version,
                                            MetadataTree tree, absl::Span<const std::string> path);

}  // namespace minicloud::metadata
