#pragma once

// The XML of EC2's instance shapes, shared by RunInstances and DescribeInstances (element names
// from botocore's EC2 model, data/ec2/2016-11-15/service-2.json: Instance, Reservation,
// InstanceStateChange, InstanceMetadataOptionsResponse).

#include "controller/query/xml.h"
#include "minicloud/v1/compute.pb.h"

namespace minicloud::query {

void WriteInstance(XmlNode item, const v1::Instance& i);
// reservationId, ownerId, groupSet, instancesSet: the body of a Reservation (an item of
// reservationSet, or RunInstances' response itself).
void WriteReservationBody(XmlNode node, const v1::Reservation& r);
void WriteStateChanges(XmlNode parent,
                       const google::protobuf::RepeatedPtrField<v1::InstanceStateChange>& changes);
void WriteMetadataOptions(XmlNode node, const v1::InstanceMetadataOptions& o);
void WriteTags(XmlNode parent, const google::protobuf::RepeatedPtrField<v1::Tag>& tags);

}  // namespace minicloud::query
