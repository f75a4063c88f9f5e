// Where the CLI finds credentials and region (cli/credentials.h): the aws CLI's order, checked
// with every source present at once so each step must beat the ones after it. Each case names
// the one-line bug it catches.
#include "cli/credentials.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>

#include "cli/verb.h"
#include "tests/testing/temp_dir.h"

namespace minicloud::cli {
namespace {

struct World {
  minicloud::testing::TempDir dir;
  std::map<std::string, std::string> env;
  CredentialSources src;

  World() {
    src.getenv = [this](const std::string& n) -> std::optional<std::string> {
      auto it = env.find(n);
      if (it == env.end()) return std::nullopt;
      return it->second;
    };
    src.home = dir.path();
    src.controller_credentials = dir / "admin-credentials";
    std::filesystem::create_directories(dir / ".aws");
  }
  void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }
  AwsCredentials Resolve(const std::string& profile = "") {
    return ResolveCredentials(profile, src);
  }
};

constexpr char kHomeCredentials[] =
    "# comment\n[default]\naws_access_key_id = AKIAHOMEDEFAULT00000\n"
    "aws_secret_access_key = home-default-secret\n\n"
    "[lab]\naws_access_key_id=AKIAHOMELAB000000000\naws_secret_access_key=home-lab-secret\n";

TEST_CASE("credential lookup follows the aws CLI's order", "[cli][auth]") {
  World w;
  w.Write(w.dir / ".aws/credentials", kHomeCredentials);
  w.Write(w.dir / "admin-credentials",
          "[default]\naws_access_key_id = AKIACONTROLLER000000\naws_secret_access_key = ctl\n");
  w.env["AWS_ACCESS_KEY_ID"] = "AKIAENVIRONMENT00000";
  w.env["AWS_SECRET_ACCESS_KEY"] = "env-secret";

  // Catches: the environment not read first.
  CHECK(w.Resolve().access_key_id == "AKIAENVIRONMENT00000");
  CHECK(w.Resolve().secret_access_key == "env-secret");
  // Catches: --profile losing to the environment (the aws CLI lets a named profile win).
  CHECK(w.Resolve("lab").access_key_id == "AKIAHOMELAB000000000");

  // Catches: an id without its secret taken from the environment.
  w.env.erase("AWS_SECRET_ACCESS_KEY");
  CHECK(w.Resolve().access_key_id == "AKIAHOMEDEFAULT00000");

  // Catches: AWS_PROFILE ignored.
  w.env["AWS_PROFILE"] = "lab";
  CHECK(w.Resolve().secret_access_key == "home-lab-secret");
  w.env.erase("AWS_PROFILE");

  // Catches: AWS_SHARED_CREDENTIALS_FILE ignored in favour of ~/.aws/credentials.
  w.Write(w.dir / "other",
          "[default]\naws_access_key_id = AKIAOTHERFILE0000000\n"
          "aws_secret_access_key = o\n");
  w.env["AWS_SHARED_CREDENTIALS_FILE"] = w.dir / "other";
  CHECK(w.Resolve().access_key_id == "AKIAOTHERFILE0000000");
  CHECK(w.Resolve().source == w.dir / "other");

  // Catches: the controller's file not used as the last resort.
  w.env["AWS_SHARED_CREDENTIALS_FILE"] = w.dir / "missing";
  CHECK(w.Resolve().access_key_id == "AKIACONTROLLER000000");
  // Catches: a named profile silently falling back to the controller's admin key.
  CHECK_THROWS_AS(w.Resolve("lab"), ConfigError);
}

TEST_CASE("credentials in the config file count, under [profile NAME]", "[cli][auth]") {
  World w;
  w.Write(w.dir / ".aws/config",
          "[profile lab]\nregion = lab-1\naws_access_key_id = AKIACONFIGLAB0000000\n"
          "aws_secret_access_key = c\n");
  // Catches: the config file's "profile " prefix not used.
  CHECK(w.Resolve("lab").access_key_id == "AKIACONFIGLAB0000000");
}

// Catches: a missing key answered with an empty key (a request the controller refuses with a
// less helpful message) instead of a clear error.
TEST_CASE("no credentials anywhere is a clear error", "[cli][auth]") {
  World w;
  try {
    w.Resolve();
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()).find("Unable to locate credentials") == 0);
  }
  try {
    w.Resolve("nope");
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()) == "The config profile (nope) could not be found");
  }
}

// Catches: the region order wrong (flag, AWS_REGION, AWS_DEFAULT_REGION, profile, default).
TEST_CASE("region lookup follows the aws CLI's order", "[cli][auth]") {
  World w;
  CHECK(ResolveRegion("", "", w.src) == "home-1");
  w.Write(w.dir / ".aws/config", "[default]\nregion = conf-1\n[profile lab]\nregion = lab-1\n");
  CHECK(ResolveRegion("", "", w.src) == "conf-1");
  CHECK(ResolveRegion("", "lab", w.src) == "lab-1");
  w.env["AWS_DEFAULT_REGION"] = "default-env-1";
  CHECK(ResolveRegion("", "lab", w.src) == "default-env-1");
  w.env["AWS_REGION"] = "region-env-1";
  CHECK(ResolveRegion("", "", w.src) == "region-env-1");
  CHECK(ResolveRegion("flag-1", "", w.src) == "flag-1");
}

}  // namespace
}  // namespace minicloud::cli
