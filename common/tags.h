#pragma once

// EC2's rules for one tag, in one place: the controller checks every tag of a request with them
// and the agent re-checks the tags it is about to serve in instance metadata.
//
// From the EC2 user guide, "Tag restrictions"
// (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html#tag-restrictions):
//   - keys 1 to 128 Unicode characters in UTF-8, values 0 to 256 (lengths count characters,
//     not bytes);
//   - the prefix "aws:" (in any case) is reserved;
//   - with instance tags in instance metadata enabled (InstanceMetadataTags=enabled) a key may
//     only use letters a-z and A-Z, digits 0-9 and + - = . , _ : @ (so no spaces, no '/', no
//     newlines), and may not be exactly ".", ".." or "_index" (the key becomes a path segment
//     of tags/instance/<key>).

#include <cstddef>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace minicloud {

// The number of Unicode characters in `text`; InvalidArgument when it is not valid UTF-8
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
absl::StatusOr<size_t> Utf8Length(absl::string_view text);

// Whether the tag's key has to be servable as an instance metadata path segment.
enum class TagUse { kApiOnly, kInstanceMetadata };

// OK when the tag satisfies EC2's rules for `use`; otherwise InvalidArgument naming the rule,
// with the key escaped and shortened.
absl::Status CheckTag(absl::string_view key, absl::string_view value, TagUse use);

}  // namespace minicloud
