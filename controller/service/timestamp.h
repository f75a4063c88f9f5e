#pragma once

#include <google/protobuf/timestamp.pb.h>

#include <cstdint>

namespace minicloud::controller {

// Unix milliseconds as a protobuf Timestamp (the API's time type).
inline google::protobuf::Timestamp ToTimestamp(int64_t unix_ms) {
  google::protobuf::Timestamp t;
  t.set_seconds(unix_ms / 1000);
  t.set_nanos(static_cast<int32_t>((unix_ms % 1000) * 1'000'000));
  return t;
}

}  // namespace minicloud::controller
