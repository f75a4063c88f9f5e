#pragma once

// Errors as values for the guest helpers. The helpers run inside guests and link no Abseil (only
// header-only libraries and glibc), so they carry this small Status / StatusOr of their own: a
// message with its context, nothing else (the helpers' only edge is an exit code and a line).

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace minicloud::guest {

class Status {
 public:
  Status() = default;
  static Status Error(std::string message) { return Status(std::move(message)); }
  bool ok() const { return !message_.has_value(); }
  const std::string& message() const {
    static const std::string kEmpty;
    return message_ ? *message_ : kEmpty;
  }
  // "context: message", for errors passed up.
  Status WithContext(const std::string& context) const {
    return ok() ? *this : Error(context + ": " + *message_);
  }

 private:
  explicit Status(std::string message) : message_(std::move(message)) {}
  std::optional<std::string> message_;
};

inline Status OkStatus() { return Status(); }
inline Status Error(std::string message) { return Status::Error(std::move(message)); }

template <typename T>
class StatusOr {
 public:
  StatusOr(T value) : v_(std::move(value)) {}         // NOLINT: implicit like absl::StatusOr
  StatusOr(Status status) : v_(std::move(status)) {}  // NOLINT; must not be OK
  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? OkStatus() : std::get<Status>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace minicloud::guest

#define GUEST_RETURN_IF_ERROR(expr)          \
  do {                                       \
    ::minicloud::guest::Status _st = (expr); \
    if (!_st.ok()) return _st;               \
  } while (0)
