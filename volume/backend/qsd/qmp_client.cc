#include "volume/backend/qsd/qmp_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace minicloud::volume {

absl::StatusOr<QmpClient> QmpClient::Connect(const std::string& path,
                                             std::chrono::milliseconds timeout) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("QMP socket path too long: ", path));
  }
  file::UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return file::ErrnoError(errno, "socket", path);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return absl::UnavailableError(absl::StrCat("connect ", path, ": ", std::strerror(errno)));
  }
  QmpClient client(std::move(fd), timeout);
  MC_ASSIGN_OR_RETURN(nlohmann::json greeting, client.ReadMessage());
  if (!greeting.contains("QMP")) {
    return absl::UnavailableError(absl::StrCat(path, ": not a QMP greeting"));
  }
  MC_RETURN_IF_ERROR(client.Execute("qmp_capabilities").status());
  return client;
}

absl::StatusOr<nlohmann::json> QmpClient::ReadMessage() {
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  while (true) {
    const size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      nlohmann::json message = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (message.is_discarded() || !message.is_object()) {
        return absl::UnavailableError(absl::StrCat("QMP: not a JSON object: ", line));
      }
      return message;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return absl::UnavailableError("QMP: no answer in time");
    pollfd p{.fd = fd_.get(), .events = POLLIN, .revents = 0};
    const int r = poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return absl::UnavailableError(absl::StrCat("QMP poll: ", std::strerror(errno)));
    if (r == 0) continue;
    char chunk[65536];
    const ssize_t n = read(fd_.get(), chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return absl::UnavailableError(
          absl::StrCat("QMP connection closed", n < 0 ? ": " : "", n < 0 ? strerror(errno) : ""));
    }
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

absl::StatusOr<nlohmann::json> QmpClient::Execute(const std::string& command,
                                                  const nlohmann::json& arguments) {
  if (broken_) return absl::UnavailableError(absl::StrCat("QMP ", command, ": connection broken"));
  nlohmann::json request = {{"execute", command}};
  if (!arguments.is_null()) request["arguments"] = arguments;
  const std::string line = request.dump() + "\n";
  size_t sent = 0;
  while (sent < line.size()) {
    const ssize_t n = send(fd_.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      broken_ = true;
      return absl::UnavailableError(absl::StrCat("QMP ", command, ": ", std::strerror(errno)));
    }
    sent += static_cast<size_t>(n);
  }
  while (true) {
    absl::StatusOr<nlohmann::json> read = ReadMessage();
    if (!read.ok()) {
      broken_ = true;
      return Annotate(read.status(), command);
    }
    nlohmann::json answer = *std::move(read);
    if (answer.contains("event")) continue;
    if (answer.contains("return")) return answer["return"];
    if (answer.contains("error") && answer["error"].is_object()) {
      const std::string cls = answer["error"].value("class", "");
      const std::string desc = answer["error"].value("desc", "");
      const std::string msg = absl::StrCat(command, ": ", desc);
      if (cls == "DeviceNotFound") return absl::NotFoundError(msg);
      return absl::FailedPreconditionError(msg);
    }
    return absl::UnavailableError(absl::StrCat("QMP ", command, ": unexpected ", answer.dump()));
  }
}

}  // namespace minicloud::volume
