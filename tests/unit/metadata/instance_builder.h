#pragma once

// Test builder for InstanceMetadata: MakeInstance().Id("i-2").Tokens(HttpTokens::kRequired)...
// Defaults are a realistic, fully populated instance; every test states what it changes.

#include <memory>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "agent/metadata/instance_metadata.h"

namespace minicloud::metadata::testing {

inline constexpr char kTestKey[] =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMinicloudTestKeyForImdsTests0000000000000 test-key";

class InstanceBuilder {
 public:
  InstanceBuilder() {
    m_.instance_id = "i-0123456789abcdef0";
    m_.image_id = "ami-0abcdef1234567890";
    m_.instance_type = "t3.micro";
    m_.reservation_id = "r-0fedcba9876543210";
    m_.account_id = "123456789012";
    m_.region = "eu-west-1";
    m_.availability_zone = "eu-west-1a";
    m_.local_ipv4 = "10.0.0.5";
    m_.hostname = Ec2PrivateDnsName(m_.local_ipv4, m_.region);
    m_.local_hostname = m_.hostname;
    m_.mac = "02:00:0a:00:00:05";
    m_.interface_id = "eni-0a1b2c3d4e5f60718";
    m_.subnet_id = "subnet-0123abcd";
    m_.subnet_ipv4_cidr_block = "10.0.0.0/24";
    m_.vpc_id = "vpc-0123abcd";
    m_.vpc_ipv4_cidr_block = "10.0.0.0/16";
    m_.security_groups = {{"sg-0aaa1111", "default"}, {"sg-0bbb2222", "web"}};
    m_.public_keys = {{"test-key", kTestKey}};
    m_.tags = {{"Environment", "dev"}, {"Name", "web-1"}, {"Empty", ""}};
    m_.user_data = "#cloud-config\nruncmd:\n - echo hello\n";
    m_.pending_time = absl::FromUnixSeconds(1'700'000'000);
    m_.identity.document = "{\"instanceId\" : \"i-0123456789abcdef0\"}";
    m_.identity.signature = "c2lnbmF0dXJl";
    m_.identity.pkcs7 = "cGtjczc=";
    m_.identity.rsa2048 = "cnNhMjA0OA==";
  }

  InstanceBuilder& Id(std::string id) {
    m_.instance_id = std::move(id);
    return *this;
  }
  InstanceBuilder& Ip(std::string ip) {
    m_.local_ipv4 = std::move(ip);
    m_.hostname = Ec2PrivateDnsName(m_.local_ipv4, m_.region);
    m_.local_hostname = m_.hostname;
    return *this;
  }
  InstanceBuilder& Tokens(HttpTokens t) {
    m_.options.http_tokens = t;
    return *this;
  }
  InstanceBuilder& Endpoint(HttpEndpoint e) {
    m_.options.http_endpoint = e;
    return *this;
  }
  InstanceBuilder& HopLimit(int h) {
    m_.options.http_put_response_hop_limit = h;
    return *this;
  }
  InstanceBuilder& TagsInMetadata(bool on) {
    m_.options.instance_metadata_tags =
        on ? InstanceMetadataTags::kEnabled : InstanceMetadataTags::kDisabled;
    return *this;
  }
  InstanceBuilder& UserData(std::optional<std::string> ud) {
    m_.user_data = std::move(ud);
    return *this;
  }
  InstanceBuilder& NoKeys() {
    m_.public_keys.clear();
    return *this;
  }
  InstanceBuilder& Ephemeral0(std::string dev) { return Ephemeral("ephemeral0", std::move(dev)); }
  InstanceBuilder& Ephemeral(std::string virtual_name, std::string dev) {
    m_.block_device_mapping.ephemeral.push_back({std::move(virtual_name), std::move(dev)});
    return *this;
  }
  InstanceBuilder& PlacementGroup(std::string name, std::optional<int> partition) {
    m_.placement_group_name = std::move(name);
    m_.placement_partition_number = partition;
    return *this;
  }
  InstanceBuilder& AzId(std::string id) {
    m_.availability_zone_id = std::move(id);
    return *this;
  }
  InstanceBuilder& Identity(IdentityDocument d) {
    m_.identity = std::move(d);
    return *this;
  }
  template <typename F>
  InstanceBuilder& With(F&& f) {
    f(m_);
    return *this;
  }

  InstanceMetadata Build() const { return m_; }
  std::shared_ptr<const InstanceMetadata> Shared() const {
    return std::make_shared<const InstanceMetadata>(m_);
  }

 private:
  InstanceMetadata m_;
};

inline InstanceBuilder MakeInstance() { return InstanceBuilder(); }

}  // namespace minicloud::metadata::testing
