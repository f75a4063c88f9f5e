#include "agent/metadata/handler.h"

// EC2 IMDS behaviour implemented here, with sources:
//
// [UG]  AWS EC2 user guide (archived awsdocs/amazon-ec2-user-guide, doc_source/):
//       instancedata-data-retrieval.md, instance-metadata-v2-how-it-works.md,
//       instancedata-data-categories.md, instance-identity-documents.md.
// [CI]  cloud-init 22.4: cloudinit/sources/DataSourceEc2.py, cloudinit/sources/helpers/ec2.py,
//       tests/unittests/sources/test_ec2.py (its mock registers every directory and leaf with and
//       without a trailing slash, mirroring EC2).
// [AEMM] aws/amazon-ec2-metadata-mock: pkg/server/httpserver.go (error pages, trailing-slash
//       middleware), pkg/mock/imdsv2/*.go (TTL validation), test/e2e/golden.
// [OBS] Transcripts of real IMDS sessions published in CTF write-ups (flaws.cloud): version list,
//       `latest/` listing without trailing slashes, no trailing newline after listings,
//       directories served without trailing slash (`meta-data/iam` lists `info`).
//
//  - Everything is text/plain [UG "Responses and error messages"]; user-data is
//    application/octet-stream [AEMM FormatAndReturnOctetResponse].
//  - Listings are LF-separated, sub-directories end in '/', no trailing newline [UG, OBS].
//    `/<ver>/` lists `dynamic`, `meta-data`, `user-data` without slashes [OBS]; user-data only
//    when the instance has some.
//  - A directory answers with or without its trailing slash; a leaf also answers with one
//    [CI test_ec2.py register_mock_metaserver, AEMM trailingSlashMiddleware]. Empty path
//    segments ("//") are ignored (scripts in the wild use `meta-data//ami-id`).
//  - Unknown paths: 404 with EC2's HTML page [UG, AEMM notFoundResponse].
//  - Categories appear only in metadata versions at or after their release version
//    [UG instancedata-data-categories.md table; CI: "IPv6 support comes in 2016-09-02. Tags
//    support comes in 2021-03-23."].
//  - public-keys/ lists `0=<name>`, public-keys/0/ lists `openssh-key` [UG examples 3-5].
//  - tags/instance/<key> only with InstanceMetadataTags=enabled [UG, example 7]; tags/ lists
//    `instance/` [CI TAGS_METADATA_2021_03_23].
//  - dynamic/instance-identity/{document,pkcs7,rsa2048,signature} [UG instance-identity-documents;
//    CI get_instance_identity crawls `dynamic/instance-identity` without a slash].
//  - IMDSv2 [UG instance-metadata-v2-how-it-works, instancedata-data-retrieval]:
//      * only `PUT /latest/api/token` issues a token; "Issuing PUT requests to any
//        version-specific path, for example /2021-03-23/api/token, will result in the metadata
//        service returning 403 Forbidden errors." Other PUT targets: 403 as well (assumption,
//        see below).
//      * X-aws-ec2-metadata-token-ttl-seconds required, 1..21600; missing / non-numeric / out of
//        range -> 400 ("400 - Missing or Invalid Parameters – The PUT request is not valid").
//        The TTL is echoed in the response header [AEMM GenerateToken].
//      * "PUT requests are rejected if they contain an X-Forwarded-For header" -> 403.
//      * "GET and HEAD methods are allowed"; anything else -> 405 with Allow.
//      * "401 - Unauthorized – The GET request uses an invalid token." A token that is present but
//        invalid or expired is 401 in optional mode too (clients such as aws-c-auth rely on the
//        401 to learn their cached token expired: awslabs/aws-c-auth#217); with
//        HttpTokens=required a missing token is 401 as well.
//      * "403 - Forbidden – The request is not allowed or the IMDS is turned off."
//      * The token response carries the instance's PUT response hop limit as IP TTL.
//
// Assumptions (not verifiable from public sources; see the report / docs):
//  - A request-target in absolute form (`GET http://host/latest/... HTTP/1.1`, what a client sends
//    to a forward proxy, RFC 9112 section 3.2.2) or authority form (`host:port`) answers 403,
//    whatever the host, for every method: the IMDS is not a proxy, and a request shaped for one
//    comes through a proxy or from software that mistakes the IMDS for one — the situation the
//    X-Forwarded-For rule refuses too. [UG] defines 403 as "the request is not allowed"; EC2's
//    exact answer to this form is not documented.
//  - PUT to a non-token path answers 403 like the versioned token path.
//  - A request from an address no instance owns answers 403 (on EC2 it cannot happen).
//  - GET /latest/api/token answers 404 (nothing is listed there).

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/metadata/metadata_tree.h"

namespace minicloud::metadata {

// ---------------------------------------------------------------------------------------------
// Headers

Headers::Headers(std::initializer_list<std::pair<std::string, std::string>> fields)
    : fields_(fields) {}

void Headers::Add(absl::string_view name, absl::string_view value) {
  fields_.emplace_back(std::string(name), std::string(value));
}

void Headers::Set(absl::string_view name, absl::string_view value) {
  fields_.erase(
      std::remove_if(fields_.begin(), fields_.end(),
                     [&](const auto& f) { return absl::EqualsIgnoreCase(f.first, name); }),
      fields_.end());
  Add(name, value);
}

std::optional<absl::string_view> Headers::Get(absl::string_view name) const {
  for (const auto& f : fields_) {
    if (absl::EqualsIgnoreCase(f.first, name)) return absl::string_view(f.second);
  }
  return std::nullopt;
}

namespace {

// ---------------------------------------------------------------------------------------------
// Versions. [OBS] lists from 2022-2024 instances; 2022-07-09 and 2024-04-11 appear on newer
// instances only, cloud-init probes 2021-03-23 / 2018-09-24 / 2016-09-02 / 2009-04-04.

constexpr std::array<absl::string_view, 30> kVersions = {
    "1.0",        "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10", "2007-12-15",
    "2008-02-01", "2008-09-01", "2009-04-04", "2011-01-01", "2011-05-01", "2012-01-12",
    "2014-02-25", "2014-11-05", "2015-10-20", "2016-04-19", "2016-06-30", "2016-09-02",
    "2018-03-28", "2018-08-17", "2018-09-24", "2019-10-01", "2020-10-27", "2021-01-03",
    "2021-03-23", "2021-07-15", "2022-07-09", "2022-09-24", "2024-04-11", "latest"};

constexpr absl::string_view kTextPlain = "text/plain";
constexpr absl::string_view kOctetStream = "application/octet-stream";

// ---------------------------------------------------------------------------------------------
// Error pages. 404 is the iso-8859-1 page EC2 serves for unknown keys; the other statuses use
// the UTF-8 page of EC2's IMDSv2 errors. [AEMM httpserver.go]

std::string ReasonPhrase(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Payload Too Large";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

std::string ErrorBody(int status) {
  const std::string title = absl::StrCat(status, " - ", ReasonPhrase(status));
  if (status == 404) {
    return absl::StrCat(
        "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n"
        "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n"
        "\t\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n"
        "<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n"
        " <head>\n"
        "  <title>",
        title,
        "</title>\n"
        " </head>\n"
        " <body>\n"
        "  <h1>",
        title,
        "</h1>\n"
        " </body>\n"
        "</html>\n");
  }
  return absl::StrCat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\" "
      "\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n"
      "<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n"
      "   <head>\n"
      "      <title>",
      title,
      "</title>\n"
      "   </head>\n"
      "   <body>\n"
      "      <h1>",
      title,
      "</h1>\n"
      "   </body>\n"
      "</html>\n");
}

Response Content(std::string body, absl::string_view content_type = kTextPlain) {
  Response r;
  r.status = 200;
  r.headers.Add("Content-Type", content_type);
  r.body = std::move(body);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Request parsing helpers

int HexValue(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

std::optional<std::string> PercentDecode(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = HexValue(s[i + 1]);
    const int lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

// A request-target that starts with a URI scheme (RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" /
// "." ) ":"): absolute form ("http://host/path") or authority form ("host:port").
bool IsProxyForm(absl::string_view target) {
  if (target.empty() || !absl::ascii_isalpha(static_cast<unsigned char>(target.front()))) {
    return false;
  }
  for (char ch : target) {
    if (ch == ':') return true;
    const auto c = static_cast<unsigned char>(ch);
    if (!absl::ascii_isalnum(c) && ch != '+' && ch != '-' && ch != '.') return false;
  }
  return false;
}

// The path of an origin-form request-target: query and fragment dropped. nullopt when the target
// is not a path at all.
std::optional<absl::string_view> TargetPath(absl::string_view target) {
  const size_t q = target.find_first_of("?#");
  if (q != absl::string_view::npos) target = target.substr(0, q);
  if (target.empty() || target.front() != '/') return std::nullopt;
  return target;
}

bool IsVersion(absl::string_view v) {
  return std::find(kVersions.begin(), kVersions.end(), v) != kVersions.end();
}

// X-aws-ec2-metadata-token-ttl-seconds: decimal digits only, 1..21600.
std::optional<int> ParseTtl(absl::string_view v) {
  if (v.empty() || v.size() > 9) return std::nullopt;
  for (char ch : v) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(ch))) return std::nullopt;
  }
  int ttl = 0;
  if (!absl::SimpleAtoi(v, &ttl)) return std::nullopt;
  if (ttl < TokenAuthority::kMinTtlSeconds || ttl > TokenAuthority::kMaxTtlSeconds) {
    return std::nullopt;
  }
  return ttl;
}

Response HandleTokenPut(const Request& req, const InstanceMetadata& m, const TokenAuthority& tokens,
                        absl::Time now) {
  if (req.headers.Has("X-Forwarded-For")) return ErrorResponse(403);
  const std::optional<absl::string_view> path = TargetPath(req.target);
  if (!path || *path != kTokenPath) return ErrorResponse(403);
  const std::optional<absl::string_view> ttl_header = req.headers.Get(kTokenTtlHeader);
  if (!ttl_header) return ErrorResponse(400);
  const std::optional<int> ttl = ParseTtl(*ttl_header);
  if (!ttl) return ErrorResponse(400);
  absl::StatusOr<std::string> token = tokens.Issue(m.instance_id, absl::Seconds(*ttl), now);
  if (!token.ok()) return ErrorResponse(400);  // only an unusable instance id gets here
  Response r = Content(*std::move(token));
  r.headers.Add(kTokenTtlHeader, absl::StrCat(*ttl));
  r.ttl_for_response =
      std::clamp(m.options.http_put_response_hop_limit, kMinHopLimit, kMaxHopLimit);
  return r;
}

Response HandleRead(const Request& req, const InstanceMetadata& m, const TokenAuthority& tokens,
                    absl::Time now, ProvenToken* proven) {
  const std::optional<absl::string_view> token = req.headers.Get(kTokenHeader);
  if (token) {
    if (tokens.Validate(*token, m.instance_id, now, proven) != TokenCheck::kOk) {
      return ErrorResponse(401);
    }
  } else if (m.options.http_tokens == HttpTokens::kRequired) {
    return ErrorResponse(401);
  }

  const std::optional<absl::string_view> path = TargetPath(req.target);
  if (!path) return ErrorResponse(404);
  std::vector<std::string> segments;
  for (absl::string_view raw : absl::StrSplit(*path, '/', absl::SkipEmpty())) {
    std::optional<std::string> seg = PercentDecode(raw);
    if (!seg) return ErrorResponse(404);
    segments.push_back(*std::move(seg));
  }

  if (segments.empty()) {
    std::string body;
    for (absl::string_view v : kVersions) {
      if (!body.empty()) body.push_back('\n');
      body.append(v.data(), v.size());
    }
    return Content(std::move(body));
  }
  if (!IsVersion(segments[0])) return ErrorResponse(404);
  const absl::string_view version = segments[0];
  const absl::Span<const std::string> rest = absl::MakeConstSpan(segments).subspan(1);

  if (rest.empty()) {
    std::vector<std::string> cats;
    if (VersionHas(version, "2009-04-04")) cats.push_back("dynamic");
    cats.push_back("meta-data");
    if (m.user_data) cats.push_back("user-data");
    return Content(absl::StrJoin(cats, "\n"));
  }
  const absl::Span<const std::string> below = rest.subspan(1);
  if (rest[0] == "meta-data") {
    std::optional<std::string> body = ReadMetadataTree(m, version, MetadataTree::kMetaData, below);
    if (!body) return ErrorResponse(404);
    return Content(*std::move(body));
  }
  if (rest[0] == "dynamic" && VersionHas(version, "2009-04-04")) {
    std::optional<std::string> body = ReadMetadataTree(m, version, MetadataTree::kDynamic, below);
    if (!body) return ErrorResponse(404);
    return Content(*std::move(body));
  }
  if (rest[0] == "user-data" && m.user_data && below.empty()) {
    return Content(*m.user_data, kOctetStream);
  }
  return ErrorResponse(404);
}

}  // namespace

Response ErrorResponse(int status) {
  Response r;
  r.status = status;
  r.headers.Add("Content-Type", "text/html");
  r.body = ErrorBody(status);
  return r;
}

absl::Span<const absl::string_view> ImdsVersions() { return absl::MakeConstSpan(kVersions); }

namespace {

Response Dispatch(const Request& req, const InstanceMetadata* instance,
                  const TokenAuthority& tokens, absl::Time now, ProvenToken* proven) {
  const bool is_put = req.method == "PUT";
  if (req.method != "GET" && req.method != "HEAD" && !is_put) {
    Response r = ErrorResponse(405);
    r.headers.Add("Allow", "GET, HEAD, PUT");
    return r;
  }
  if (IsProxyForm(req.target)) return ErrorResponse(403);
  if (instance == nullptr) return ErrorResponse(403);
  if (instance->options.http_endpoint == HttpEndpoint::kDisabled) return ErrorResponse(403);
  if (is_put) return HandleTokenPut(req, *instance, tokens, now);
  return HandleRead(req, *instance, tokens, now, proven);
}

}  // namespace

Response Handle(const Request& req, const InstanceMetadata* instance, const TokenAuthority& tokens,
                absl::Time now, ProvenToken* proven) {
  Response r = Dispatch(req, instance, tokens, now, proven);
  if (req.method == "HEAD") {  // every status, errors included: headers only
    r.content_length = r.body.size();
    r.body.clear();
  }
  return r;
}

}  // namespace minicloud::metadata
