// common/ec2_names.h: the one mapping between the typed option enums and EC2's wire strings.
#include "common/ec2_names.h"

#include <catch2/catch.hpp>
#include <string>

#include "common/ec2_error.h"

namespace minicloud {
namespace {

// Parse(Name(v)) == v for every named value, Name gives EC2's exact spelling, and a wrong
// spelling is InvalidParameterValue naming the parameter, the value and the allowed names.
template <typename E, typename ParseFn, typename NameFn>
void CheckTable(ParseFn parse, NameFn name, std::initializer_list<std::pair<E, const char*>> rows,
                const char* parameter, const char* allowed) {
  for (const auto& [value, text] : rows) {
    INFO(parameter << " " << text);
    CHECK(name(value) == text);
    auto parsed = parse(text, parameter);
    REQUIRE(parsed.ok());
    CHECK(*parsed == value);
    // EC2's names are lower case; a differently cased one is not accepted.
    std::string upper = text;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    CHECK_FALSE(parse(upper, parameter).ok());
  }
  CHECK(name(static_cast<E>(0)).empty());   // UNSPECIFIED has no EC2 name
  CHECK(name(static_cast<E>(99)).empty());  // nor does a number the enum lacks
  for (const char* bad : {"", "bogus"}) {
    auto parsed = parse(bad, parameter);
    CHECK(Ec2CodeOf(parsed.status()) == "InvalidParameterValue");
    CHECK(std::string(parsed.status().message()) == std::string("Value (") + bad +
                                                        ") for parameter " + parameter +
                                                        " is invalid. Expected: " + allowed + ".");
  }
}

}  // namespace

// Each table catches a misspelt or swapped name (e.g. "enable" for "enabled", or
// HTTP_TOKENS_OPTIONAL named "required"), which would change what the CLI sends and prints.
TEST_CASE("EC2 names of the typed option enums", "[common][ec2-names]") {
  CheckTable<v1::HttpTokens>(
      ParseHttpTokens, HttpTokensName,
      {{v1::HTTP_TOKENS_OPTIONAL, "optional"}, {v1::HTTP_TOKENS_REQUIRED, "required"}},
      "HttpTokens", "'optional' or 'required'");
  CheckTable<v1::HttpEndpoint>(
      ParseHttpEndpoint, HttpEndpointName,
      {{v1::HTTP_ENDPOINT_ENABLED, "enabled"}, {v1::HTTP_ENDPOINT_DISABLED, "disabled"}},
      "HttpEndpoint", "'enabled' or 'disabled'");
  CheckTable<v1::InstanceMetadataTags>(ParseInstanceMetadataTags, InstanceMetadataTagsName,
                                       {{v1::INSTANCE_METADATA_TAGS_ENABLED, "enabled"},
                                        {v1::INSTANCE_METADATA_TAGS_DISABLED, "disabled"}},
                                       "InstanceMetadataTags", "'enabled' or 'disabled'");
  CheckTable<v1::HttpProtocolIpv6>(
      ParseHttpProtocolIpv6, HttpProtocolIpv6Name,
      {{v1::HTTP_PROTOCOL_IPV6_ENABLED, "enabled"}, {v1::HTTP_PROTOCOL_IPV6_DISABLED, "disabled"}},
      "HttpProtocolIpv6", "'enabled' or 'disabled'");
  CheckTable<v1::MetadataOptionsState>(ParseMetadataOptionsState, MetadataOptionsStateName,
                                       {{v1::METADATA_OPTIONS_STATE_PENDING, "pending"},
                                        {v1::METADATA_OPTIONS_STATE_APPLIED, "applied"}},
                                       "State", "'pending' or 'applied'");
  CheckTable<v1::PlacementStrategy>(ParsePlacementStrategy, PlacementStrategyName,
                                    {{v1::PLACEMENT_STRATEGY_CLUSTER, "cluster"},
                                     {v1::PLACEMENT_STRATEGY_SPREAD, "spread"},
                                     {v1::PLACEMENT_STRATEGY_PARTITION, "partition"}},
                                    "strategy", "'cluster', 'spread' or 'partition'");
  CheckTable<v1::SpreadLevel>(ParseSpreadLevel, SpreadLevelName,
                              {{v1::SPREAD_LEVEL_RACK, "rack"}, {v1::SPREAD_LEVEL_HOST, "host"}},
                              "spreadLevel", "'rack' or 'host'");
}

TEST_CASE("the allowed lists match the tables", "[common][ec2-names]") {
  CHECK(AllowedHttpTokens() == "'optional' or 'required'");
  CHECK(AllowedPlacementStrategies() == "'cluster', 'spread' or 'partition'");
  CHECK(AllowedSpreadLevels() == "'rack' or 'host'");
  CHECK(InvalidEnumValue(7, "HttpTokens", AllowedHttpTokens()).message() ==
        "Value (7) for parameter HttpTokens is invalid. Expected: 'optional' or 'required'.");
}

}  // namespace minicloud
