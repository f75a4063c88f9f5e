// create-access-key, list-access-keys and delete-access-key: the request each sends and what
// each prints, in the shapes `aws iam` prints. Expected texts are written out in full.
#include <catch2/catch.hpp>

#include "minicloud/v1/compute.pb.h"
#include "tests/unit/cli/fake_compute_api.h"

namespace minicloud::cli {
namespace {

using testing::CliHarness;
using testing::EqualsText;

// Catches: the secret left out of create-access-key's answer (it is never shown again), or a
// key renamed from aws iam's AccessKey shape.
TEST_CASE("create-access-key prints the AccessKey with its secret", "[cli][auth]") {
  CliHarness cli;
  cli.api.Answer<v1::CreateAccessKeyResponse>("CreateAccessKey", R"(
      access_key { access_key_id: "AKIAABCDEFGHIJKLMNOP" secret_access_key: "s3cr3t/+"
                   status: "Active" create_date { seconds: 1796400000 } })");
  const auto r = cli.Run({"create-access-key"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == R"({
    "AccessKey": {
        "AccessKeyId": "AKIAABCDEFGHIJKLMNOP",
        "CreateDate": "2026-12-04T16:00:00.000Z",
        "SecretAccessKey": "s3cr3t/+",
        "Status": "Active"
    }
}
)");
}

// Catches: list-access-keys as a table missing a column, or the wrong array key.
TEST_CASE("list-access-keys prints AccessKeyMetadata as JSON and table", "[cli][auth]") {
  const char* answer = R"(
      access_key_metadata { access_key_id: "AKIAAAAAAAAAAAAAAAAA" status: "Active"
                            create_date { seconds: 1796400000 } }
      access_key_metadata { access_key_id: "AKIABBBBBBBBBBBBBBBB" status: "Active"
                            create_date { seconds: 1796400060 } })";
  {
    CliHarness cli;
    cli.api.Answer<v1::ListAccessKeysResponse>("ListAccessKeys", answer);
    const auto r = cli.Run({"list-access-keys"});
    CHECK(r.exit_code == 0);
    CHECK(r.out == R"({
    "AccessKeyMetadata": [
        {
            "AccessKeyId": "AKIAAAAAAAAAAAAAAAAA",
            "CreateDate": "2026-12-04T16:00:00.000Z",
            "Status": "Active"
        },
        {
            "AccessKeyId": "AKIABBBBBBBBBBBBBBBB",
            "CreateDate": "2026-12-04T16:01:00.000Z",
            "Status": "Active"
        }
    ]
}
)");
  }
  {
    CliHarness cli;
    cli.api.Answer<v1::ListAccessKeysResponse>("ListAccessKeys", answer);
    const auto r = cli.Run({"list-access-keys", "--output", "table"});
    CHECK(r.exit_code == 0);
    // The aws CLI's table layout (columns sorted, titled by the operation; output_table.cc).
    CHECK(r.out ==
          "------------------------------------------------------------------\n"
          "|                         ListAccessKeys                         |\n"
          "+----------------------------------------------------------------+\n"
          "||                       AccessKeyMetadata                      ||\n"
          "|+-----------------------+----------------------------+---------+|\n"
          "||      AccessKeyId      |        CreateDate          | Status  ||\n"
          "|+-----------------------+----------------------------+---------+|\n"
          "||  AKIAAAAAAAAAAAAAAAAA |  2026-12-04T16:00:00.000Z  |  Active ||\n"
          "||  AKIABBBBBBBBBBBBBBBB |  2026-12-04T16:01:00.000Z  |  Active ||\n"
          "|+-----------------------+----------------------------+---------+|\n");
  }
}

// Catches: delete-access-key sending another id than the one on the line, or printing output.
TEST_CASE("delete-access-key sends the id and prints nothing", "[cli][auth]") {
  CliHarness cli;
  const auto r = cli.Run({"delete-access-key", "--access-key-id", "AKIACCCCCCCCCCCCCCCC"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.empty());
  REQUIRE(cli.api.sent().size() == 1);
  CHECK(cli.api.sent()[0].operation == "DeleteAccessKey");
  CHECK(EqualsText(*cli.api.sent()[0].request, R"(access_key_id: "AKIACCCCCCCCCCCCCCCC")"));
  const auto missing = CliHarness().Run({"delete-access-key"});
  CHECK(missing.exit_code == 252);
}

}  // namespace
}  // namespace minicloud::cli
