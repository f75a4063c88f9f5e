#pragma once

// Paths under a daemon's state directory built from names that came from outside (an instance
// id from the controller, a digest, a directory entry read back). Every filesystem operation on
// such a name goes through PathUnder, so a name can never reach outside the state directory.

#include <initializer_list>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace minicloud::file {

// OK when `name` can be one component of a path: not empty, not "." or "..", at most 255 bytes,
// and free of '/' and NUL. InvalidArgument (with the name escaped) otherwise.
absl::Status CheckPathComponent(absl::string_view name);

// `root` + "/" + each of `components`, refused (InvalidArgument) unless every component passes
// CheckPathComponent and the result, with the symbolic links of its existing part resolved,
// stays inside `root` with its links resolved. `root` itself must be absolute or relative to the
// working directory; it is trusted (it comes from the daemon's own configuration).
absl::StatusOr<std::string> PathUnder(absl::string_view root,
                                      std::initializer_list<absl::string_view> components);

}  // namespace minicloud::file
