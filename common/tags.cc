#include "common/tags.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/instance_limits.h"

namespace minicloud {
namespace {

bool IsContinuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Characters a key may use when it is served in instance metadata.
bool IsMetadataKeyChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::string_view("+-=.,_:@").find(c) != absl::string_view::npos;
}

}  // namespace

absl::StatusOr<size_t> Utf8Length(absl::string_view text) {
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++chars) {
    const auto lead = static_cast<unsigned char>(text[i]);
    size_t len = 0;
    uint32_t cp = 0;
    uint32_t min = 0;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xE0) == 0xC0) {
      len = 2, cp = lead & 0x1F, min = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      len = 3, cp = lead & 0x0F, min = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      len = 4, cp = lead & 0x07, min = 0x10000;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("not valid UTF-8 (byte ", i, ")"));
    }
    if (i + len > text.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("not valid UTF-8 (truncated at byte ", i, ")"));
    }
    for (size_t k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(text[i + k]);
      if (!IsContinuation(c)) {
        return absl::InvalidArgumentError(absl::StrCat("not valid UTF-8 (byte ", i + k, ")"));
      }
      cp = (cp << 6) | (c & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return absl::InvalidArgumentError(absl::StrCat("not valid UTF-8 (byte ", i, ")"));
    }
    i += len;
  }
  return chars;
}

absl::Status CheckTag(absl::string_view key, absl::string_view value, TagUse use) {
  const std::string shown = QuoteForMessage(key, 40);
  absl::StatusOr<size_t> key_chars = Utf8Length(key);
  if (!key_chars.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Tag key ", shown, " is ", key_chars.status().message()));
  }
  if (*key_chars == 0 || *key_chars > limits::kMaxTagKeyLength) {
    return absl::InvalidArgumentError(absl::StrCat("Tag key ", shown, " must be 1-",
                                                   limits::kMaxTagKeyLength, " characters; it has ",
                                                   *key_chars));
  }
  if (absl::StartsWithIgnoreCase(key, "aws:")) {
    return absl::InvalidArgumentError(
        absl::StrCat("Tag key ", shown, ": keys starting with 'aws:' are reserved"));
  }
  absl::StatusOr<size_t> value_chars = Utf8Length(value);
  if (!value_chars.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Tag value for ", shown, " is ", value_chars.status().message()));
  }
  if (*value_chars > limits::kMaxTagValueLength) {
    return absl::InvalidArgumentError(absl::StrCat("Tag value for ", shown, " exceeds ",
                                                   limits::kMaxTagValueLength,
                                                   " characters; it has ", *value_chars));
  }
  if (use == TagUse::kInstanceMetadata) {
    for (char c : key) {
      if (!IsMetadataKeyChar(c)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Tag key ", shown,
            " cannot be served in instance metadata (InstanceMetadataTags=enabled): keys may "
            "only use letters, digits and + - = . , _ : @"));
      }
    }
    if (key == "." || key == ".." || key == "_index") {
      return absl::InvalidArgumentError(absl::StrCat(
          "Tag key ", shown,
          " cannot be served in instance metadata (InstanceMetadataTags=enabled): keys may not "
          "be \".\", \"..\" or \"_index\""));
    }
  }
  return absl::OkStatus();
}

}  // namespace minicloud
