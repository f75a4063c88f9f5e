// The streaming response writer (controller/query/xml.h) against pugixml documents: the bytes
// a response had when it was a pugixml document printed raw must be the bytes streamed now.
#include <catch2/catch.hpp>
#include <pugixml.hpp>
#include <random>
#include <string>
#include <vector>

#include "controller/query/xml.h"

namespace minicloud::query {
namespace {

struct StringWriter final : pugi::xml_writer {
  void write(const void* data, size_t size) override {
    out.append(static_cast<const char*>(data), size);
  }
  std::string out;
};

// How the responses were printed before they were streamed (pugixml, format_raw).
std::string PrintPugi(const pugi::xml_document& doc) {
  StringWriter w;
  w.out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";
  doc.document_element().print(w, "", pugi::format_raw | pugi::format_no_declaration,
                               pugi::encoding_utf8);
  return w.out;
}

const char* const kNames[] = {"item", "instanceId", "tagSet", "value", "placement", "key"};

std::string RandomText(std::mt19937& rng) {
  std::uniform_int_distribution<int> len(0, 12), byte(0, 255), kind(0, 3);
  std::string s;
  for (int n = len(rng); n > 0; --n) {
    switch (kind(rng)) {
      case 0:
        s.push_back(static_cast<char>(byte(rng)));  // any byte, control characters and NUL too
        break;
      case 1:
        s.push_back("&<>\"'\r\n\t]"[byte(rng) % 10]);
        break;
      default:
        s.push_back(static_cast<char>('a' + byte(rng) % 26));
    }
  }
  return s;
}

// Builds the same random tree in both writers: children appended in order, and sometimes a
// field written to an ancestor after a nested list (what the actions do).
void Grow(std::mt19937& rng, int depth, pugi::xml_node p, XmlNode s) {
  std::uniform_int_distribution<int> count(0, depth > 3 ? 0 : 4), what(0, 3), name(0, 5);
  for (int n = count(rng); n > 0; --n) {
    const char* el = kNames[name(rng)];
    switch (what(rng)) {
      case 0: {  // a text element (empty text prints <x></x>)
        std::string text = RandomText(rng);
        p.append_child(el).append_child(pugi::node_pcdata).set_value(text.c_str());
        Text(s, el, text);
        break;
      }
      case 1: {
        const int64_t v = static_cast<int64_t>(rng()) - (int64_t{1} << 31);
        p.append_child(el).text().set(static_cast<long long>(v));
        Int(s, el, v);
        break;
      }
      default:  // a structure or list, possibly empty (<x/>)
        Grow(rng, depth + 1, p.append_child(el), Child(s, el));
    }
  }
}

TEST_CASE("streamed responses are byte for byte pugixml's, text escaped by pugixml") {
  std::mt19937 rng(20261204);
  for (int round = 0; round < 2000; ++round) {
    pugi::xml_document doc;
    pugi::xml_node root = doc.append_child("DescribeInstancesResponse");
    root.append_attribute("xmlns") = kEc2Namespace;
    root.append_child("requestId").append_child(pugi::node_pcdata).set_value("r-1");
    std::string body;
    XmlResponse x("DescribeInstances", "r-1", &body);
    Grow(rng, 0, root, x.root());
    REQUIRE(x.Finish().ok());
    INFO("round " << round);
    // Bug caught: an empty structure printed <x></x> instead of <x/>, a quote or \r escaped
    // where pugixml leaves it, or a control character passed through unescaped.
    REQUIRE(body == PrintPugi(doc));
  }
}

TEST_CASE("every single byte is escaped as pugixml escapes it") {
  for (int b = 0; b < 256; ++b) {
    const std::string text(1, static_cast<char>(b));
    pugi::xml_document doc;
    pugi::xml_node root = doc.append_child("R");
    root.append_attribute("xmlns") = kEc2Namespace;
    root.append_child("requestId").append_child(pugi::node_pcdata).set_value("q");
    root.append_child("v").append_child(pugi::node_pcdata).set_value(text.data(), text.size());
    std::string body;
    XmlStream stream(&body);
    XmlNode r = stream.OpenRoot("R", kEc2Namespace);
    Text(r, "requestId", "q");
    Text(r, "v", text);
    REQUIRE(stream.Close());
    INFO("byte " << b);
    CHECK("<?xml version=\"1.0\" encoding=\"UTF-8\"?>" + body == PrintPugi(doc));
  }
}

TEST_CASE("writing to an element after it closed refuses the response") {
  std::string body;
  XmlResponse x("DescribeImages", "r", &body);
  XmlNode first = Child(x.root(), "imagesSet");
  Child(x.root(), "nextToken");  // closes imagesSet
  // Bug caught: a late write to a closed element silently landing in the wrong parent.
  Text(first, "late", "x");
  CHECK(x.Finish().code() == absl::StatusCode::kInternal);
}

TEST_CASE("elements close in order when an ancestor is written to") {
  std::string body;
  XmlResponse x("DescribeInstances", "r", &body);
  XmlNode set = Child(x.root(), "reservationSet");
  XmlNode item = Item(set);
  Text(item, "reservationId", "r-1");
  Child(item, "groupSet");
  Text(x.root(), "nextToken", "t");
  REQUIRE(x.Finish().ok());
  CHECK(body ==
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><DescribeInstancesResponse "
        "xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>r</requestId>"
        "<reservationSet><item><reservationId>r-1</reservationId><groupSet/></item>"
        "</reservationSet><nextToken>t</nextToken></DescribeInstancesResponse>");
}

}  // namespace
}  // namespace minicloud::query
