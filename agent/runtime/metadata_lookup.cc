#include "agent/runtime/metadata_lookup.h"

namespace minicloud::agent {

metadata::Server::InstanceLookup MetadataLookup(const Agent& agent) {
  return [&agent](const boost::asio::ip::address& peer) {
    if (peer.is_v6() && peer.to_v6().is_v4_mapped()) {
      return agent.MetadataFor(
          boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, peer.to_v6()).to_string());
    }
    return agent.MetadataFor(peer.to_string());
  };
}

}  // namespace minicloud::agent
