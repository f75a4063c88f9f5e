#include "controller/service/metadata_options.h"

#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "common/ec2_names.h"
#include "common/instance_limits.h"

namespace minicloud::controller {

v1::InstanceMetadataOptions DefaultMetadataOptions() {
  v1::InstanceMetadataOptions o;
  o.set_http_tokens(v1::HTTP_TOKENS_OPTIONAL);
  o.set_http_endpoint(v1::HTTP_ENDPOINT_ENABLED);
  o.set_http_put_response_hop_limit(limits::kDefaultHopLimit);
  o.set_instance_metadata_tags(v1::INSTANCE_METADATA_TAGS_DISABLED);
  o.set_http_protocol_ipv6(v1::HTTP_PROTOCOL_IPV6_DISABLED);
  o.set_state(v1::METADATA_OPTIONS_STATE_APPLIED);
  return o;
}

absl::StatusOr<v1::InstanceMetadataOptions> ResolveMetadataOptions(
    const v1::InstanceMetadataOptions& req, const v1::InstanceMetadataOptions& base) {
  v1::InstanceMetadataOptions o = base;
  // UNSPECIFIED keeps `base`; a number the enum does not name is refused.
  if (req.http_tokens() != v1::HTTP_TOKENS_UNSPECIFIED) {
    if (HttpTokensName(req.http_tokens()).empty()) {
      return InvalidEnumValue(req.http_tokens(), "HttpTokens", AllowedHttpTokens());
    }
    o.set_http_tokens(req.http_tokens());
  }
  if (req.http_endpoint() != v1::HTTP_ENDPOINT_UNSPECIFIED) {
    if (HttpEndpointName(req.http_endpoint()).empty()) {
      return InvalidEnumValue(req.http_endpoint(), "HttpEndpoint", AllowedHttpEndpoint());
    }
    o.set_http_endpoint(req.http_endpoint());
  }
  if (req.instance_metadata_tags() != v1::INSTANCE_METADATA_TAGS_UNSPECIFIED) {
    if (InstanceMetadataTagsName(req.instance_metadata_tags()).empty()) {
      return InvalidEnumValue(req.instance_metadata_tags(), "InstanceMetadataTags",
                              AllowedInstanceMetadataTags());
    }
    o.set_instance_metadata_tags(req.instance_metadata_tags());
  }
  if (req.http_protocol_ipv6() != v1::HTTP_PROTOCOL_IPV6_UNSPECIFIED) {
    if (HttpProtocolIpv6Name(req.http_protocol_ipv6()).empty()) {
      return InvalidEnumValue(req.http_protocol_ipv6(), "HttpProtocolIpv6",
                              AllowedHttpProtocolIpv6());
    }
    o.set_http_protocol_ipv6(req.http_protocol_ipv6());
  }
  if (req.http_put_response_hop_limit() != 0) {
    if (req.http_put_response_hop_limit() < limits::kMinHopLimit ||
        req.http_put_response_hop_limit() > limits::kMaxHopLimit) {
      return InvalidParameterValue(
          absl::StrCat("Value (", req.http_put_response_hop_limit(),
                       ") for parameter HttpPutResponseHopLimit is invalid. Expected ",
                       limits::kMinHopLimit, "-", limits::kMaxHopLimit, "."));
    }
    o.set_http_put_response_hop_limit(req.http_put_response_hop_limit());
  }
  o.set_state(v1::METADATA_OPTIONS_STATE_APPLIED);
  return o;
}

}  // namespace minicloud::controller
