#include "controller/query/query_block_devices.h"

#include "common/status_macros.h"

namespace minicloud::query {

absl::Status ParseBlockDeviceMappings(
    ParamNode& p, google::protobuf::RepeatedPtrField<v1::BlockDeviceMapping>* out) {
  constexpr int64_t kInt32Max = 2147483647;
  for (ParamNode* m : p.List("BlockDeviceMapping")) {
    v1::BlockDeviceMapping* b = out->Add();
    if (auto v = m->String("DeviceName")) b->set_device_name(*v);
    if (auto v = m->String("VirtualName")) b->set_virtual_name(*v);
    b->set_no_device(m->String("NoDevice").has_value());
    ParamNode* ebs = m->Struct("Ebs");
    if (ebs == nullptr) continue;
    v1::EbsBlockDevice* e = b->mutable_ebs();
    if (auto v = ebs->String("SnapshotId")) e->set_snapshot_id(*v);
    if (auto v = ebs->String("VolumeType")) e->set_volume_type(*v);
    // Ranges are the service's rules; here only "is it a number".
    MC_ASSIGN_OR_RETURN(auto size, ebs->Int("VolumeSize", -kInt32Max, kInt32Max));
    if (size) e->set_volume_size(static_cast<int32_t>(*size));
    MC_ASSIGN_OR_RETURN(auto iops, ebs->Int("Iops", -kInt32Max, kInt32Max));
    if (iops) e->set_iops(static_cast<int32_t>(*iops));
    MC_ASSIGN_OR_RETURN(auto throughput, ebs->Int("Throughput", -kInt32Max, kInt32Max));
    if (throughput) e->set_throughput(static_cast<int32_t>(*throughput));
    MC_ASSIGN_OR_RETURN(auto dot, ebs->Bool("DeleteOnTermination"));
    if (dot) e->set_delete_on_termination(*dot);
    MC_ASSIGN_OR_RETURN(auto encrypted, ebs->Bool("Encrypted"));
    if (encrypted) e->set_encrypted(*encrypted);
    // Read so that the service, not UnknownParameter, answers what minicloud does not have.
    for (const char* field : {"KmsKeyId", "OutpostArn"}) ebs->String(field);
  }
  return absl::OkStatus();
}

void WriteImageBlockDeviceMappings(
    XmlNode parent, const google::protobuf::RepeatedPtrField<v1::BlockDeviceMapping>& mappings) {
  XmlNode list = Child(parent, "blockDeviceMapping");
  for (const v1::BlockDeviceMapping& m : mappings) {
    XmlNode item = Item(list);
    Text(item, "deviceName", m.device_name());
    TextIfSet(item, "virtualName", m.virtual_name());
    if (m.no_device()) Text(item, "noDevice", "");
    if (!m.has_ebs()) continue;
    const v1::EbsBlockDevice& e = m.ebs();
    XmlNode ebs = Child(item, "ebs");
    TextIfSet(ebs, "snapshotId", e.snapshot_id());
    if (e.volume_size() > 0) Int(ebs, "volumeSize", e.volume_size());
    Bool(ebs, "deleteOnTermination", !e.has_delete_on_termination() || e.delete_on_termination());
    TextIfSet(ebs, "volumeType", e.volume_type());
    if (e.has_iops() && e.iops() > 0) Int(ebs, "iops", e.iops());
    if (e.has_throughput() && e.throughput() > 0) Int(ebs, "throughput", e.throughput());
    Bool(ebs, "encrypted", e.has_encrypted() && e.encrypted());
  }
}

}  // namespace minicloud::query
