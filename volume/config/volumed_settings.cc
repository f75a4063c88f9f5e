#include "volume/config/volumed_settings.h"

#include <arpa/inet.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace minicloud::volume {
namespace {

// Key → (flag, member).
const std::map<std::string, std::pair<std::string, std::string VolumedSettings::*>>& Keys() {
  static const auto* kKeys =
      new std::map<std::string, std::pair<std::string, std::string VolumedSettings::*>>{
          {"listen", {"--listen", &VolumedSettings::listen}},
          {"state_dir", {"--state-dir", &VolumedSettings::state_dir}},
          {"region", {"--region", &VolumedSettings::region}},
          {"availability_zone", {"--availability-zone", &VolumedSettings::availability_zone}},
          {"nbd_listen", {"--nbd-listen", &VolumedSettings::nbd_listen}},
          {"nbd_advertise", {"--nbd-advertise", &VolumedSettings::nbd_advertise}},
          {"nbd_tls", {"--nbd-tls", &VolumedSettings::nbd_tls}},
          {"qsd_binary", {"--qsd-binary", &VolumedSettings::qsd_binary}},
          {"qemu_img", {"--qemu-img", &VolumedSettings::qemu_img}},
          {"tls_cert", {"--tls-cert", &VolumedSettings::tls_cert}},
          {"tls_key", {"--tls-key", &VolumedSettings::tls_key}},
          {"tls_client_ca", {"--tls-client-ca", &VolumedSettings::tls_client_ca}},
      };
  return *kKeys;
}

}  // namespace

absl::StatusOr<HostPort> ParseHostPort(const std::string& text, const std::string& what) {
  const size_t colon = text.rfind(':');
  HostPort hp;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(absl::string_view(text).substr(colon + 1), &hp.port) || hp.port < 0 ||
      hp.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": want host:port (port 0..65535), got '", text, "'"));
  }
  absl::string_view host = absl::string_view(text).substr(0, colon);
  if (absl::ConsumePrefix(&host, "[") && !absl::ConsumeSuffix(&host, "]")) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": unclosed '[' in '", text, "'"));
  }
  if (host.empty()) return absl::InvalidArgumentError(absl::StrCat(what, ": no host"));
  hp.host = std::string(host);
  return hp;
}

bool IsLoopbackHost(const std::string& host) {
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  return host == "localhost" || host == "::1";
}

void AddVolumedFlags(CLI::App& app, VolumedSettings& s) {
  app.add_option("--config", s.config_file, "YAML file with settings (flags win)");
  app.add_option("--listen", s.listen,
                 "gRPC VolumeService address (mutual TLS with the --tls-* files; plain text only "
                 "on loopback or with --insecure-plaintext)")
      ->capture_default_str();
  app.add_option("--tls-cert", s.tls_cert,
                 "the service's certificate chain (server.crt of `minicloud-controller "
                 "issue-volume-service-cert`)");
  app.add_option("--tls-key", s.tls_key, "its private key (server.key)");
  app.add_option("--tls-client-ca", s.tls_client_ca,
                 "the controller's CA (ca.crt): only the controller's client certificate from it "
                 "is let in");
  app.add_option("--nbd-tls", s.nbd_tls,
                 "on: with the --tls-* files, NBD clients need TLS and a certificate from "
                 "--tls-client-ca; off: plain NBD (anyone who reaches --nbd-listen can read and "
                 "write attached volumes)")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  app.add_flag("--insecure-plaintext", s.insecure_plaintext,
               "serve the VolumeService without TLS on a non-loopback --listen (anyone who "
               "reaches it can read and delete every volume)");
  app.add_option("--state-dir", s.state_dir, "volumes, snapshots and the manifest (0700)")
      ->capture_default_str();
  app.add_option("--region", s.region, "the region of the zone")->capture_default_str();
  app.add_option("--availability-zone", s.availability_zone, "the zone this service serves")
      ->capture_default_str();
  app.add_option("--nbd-listen", s.nbd_listen, "NBD server address (port 0: any free port)")
      ->capture_default_str();
  app.add_option("--nbd-advertise", s.nbd_advertise,
                 "host that hosts dial for exports (default: the --nbd-listen host)");
  app.add_option("--qsd-binary", s.qsd_binary, "qemu-storage-daemon to run")->capture_default_str();
  app.add_option("--qemu-img", s.qemu_img, "qemu-img to run")->capture_default_str();
}

absl::Status ApplyVolumedConfigFile(const CLI::App& app, VolumedSettings& s) {
  if (s.config_file.empty()) return absl::OkStatus();
  if (!std::filesystem::exists(s.config_file)) {
    return absl::NotFoundError(absl::StrCat("config file ", s.config_file, " not found"));
  }
  YAML::Node root;
  try {
    root = YAML::LoadFile(s.config_file);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(s.config_file, ": ", e.what()));
  }
  if (root.IsNull()) return absl::OkStatus();
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat(s.config_file, ": want a map of settings"));
  }
  for (const auto& kv : root) {
    const std::string where = absl::StrCat(s.config_file, ":", kv.first.Mark().line + 1);
    const std::string key = kv.first.as<std::string>();
    auto it = Keys().find(key);
    if (it == Keys().end()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": unknown key '", key, "'"));
    }
    if (!kv.second.IsScalar() || kv.second.Scalar().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": '", key, "' must be a non-empty string"));
    }
    const auto& [flag, member] = it->second;
    if (app.count(flag) == 0) s.*member = kv.second.Scalar();
  }
  return absl::OkStatus();
}

absl::Status ResolveVolumedSettings(VolumedSettings& s) {
  absl::StatusOr<HostPort> listen = ParseHostPort(s.listen, "listen");
  if (!listen.ok()) return listen.status();
  absl::StatusOr<HostPort> nbd = ParseHostPort(s.nbd_listen, "nbd_listen");
  if (!nbd.ok()) return nbd.status();
  if (s.availability_zone.empty()) return absl::InvalidArgumentError("no availability zone");
  if (s.state_dir.empty()) return absl::InvalidArgumentError("no state_dir");
  if (s.nbd_tls != "on" && s.nbd_tls != "off") {
    return absl::InvalidArgumentError(
        absl::StrCat("nbd_tls is \"", s.nbd_tls, "\": \"on\" or \"off\""));
  }
  s.state_dir = std::filesystem::absolute(s.state_dir).lexically_normal().string();
  const int files = !s.tls_cert.empty() + !s.tls_key.empty() + !s.tls_client_ca.empty();
  if (files != 0 && files != 3) {
    return absl::FailedPreconditionError(
        "tls_cert, tls_key and tls_client_ca go together: give all three (the files of "
        "`minicloud-controller issue-volume-service-cert`) or none");
  }
  if (files == 3 && s.insecure_plaintext) {
    return absl::FailedPreconditionError("--insecure-plaintext with TLS files: choose one");
  }
  if (files == 0 && !s.insecure_plaintext && !IsLoopbackHost(listen->host)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "listen ", s.listen,
        " is not loopback and no TLS files are given: anyone who reaches it could read and "
        "delete every volume. Give --tls-cert, --tls-key and --tls-client-ca (from "
        "`minicloud-controller issue-volume-service-cert`), listen on loopback, or pass "
        "--insecure-plaintext"));
  }
  return absl::OkStatus();
}

VolumedTransport TransportOf(const VolumedSettings& s) {
  return s.tls_cert.empty() ? VolumedTransport::kPlaintext : VolumedTransport::kMutualTls;
}

bool NbdTlsOf(const VolumedSettings& s) {
  return TransportOf(s) == VolumedTransport::kMutualTls && s.nbd_tls == "on";
}

}  // namespace minicloud::volume
