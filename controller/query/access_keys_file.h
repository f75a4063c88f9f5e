#pragma once

// Access keys for the Query API read from a file the operator writes, until the controller
// issues keys itself (issue 12, item 3). One key per line, `ACCESS_KEY_ID SECRET_ACCESS_KEY`;
// blank lines and lines starting with '#' are skipped. The file must be a regular file readable
// by its owner only (mode 0600 or 0400): anything else is refused, so a secret never sits in a
// file other accounts can read.

#include <string>

#include "absl/status/status.h"
#include "controller/auth/access_key_lookup.h"

namespace minicloud::query {

absl::Status LoadAccessKeysFile(const std::string& path,
                                controller::auth::InMemoryAccessKeys& keys);

}  // namespace minicloud::query
