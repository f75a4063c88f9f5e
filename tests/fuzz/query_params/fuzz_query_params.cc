// The EC2 Query parameter parser (controller/query/params.*) on arbitrary bytes: form decoding,
// the tree, the typed reads every action uses, and UnusedParameter. Besides "no crash": a
// reported unused parameter is one of the decoded names (a bug in the path bookkeeping would
// name a parameter the client never sent), and a successful parse keeps every pair.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "controller/query/params.h"

using minicloud::query::DecodeForm;
using minicloud::query::ParamNode;
using minicloud::query::Params;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  auto kv = DecodeForm(input);
  if (!kv.ok()) return 0;
  auto params = Params::Parse(*kv);
  if (!params.ok()) return 0;
  ParamNode& root = params->root();
  (void)root.String("Action");
  (void)root.Int("MinCount", 0, 1000);
  (void)root.Bool("DryRun");
  (void)root.StringList("InstanceId");
  for (ParamNode* f : root.List("Filter")) {
    (void)f->String("Name");
    (void)f->StringList("Value");
  }
  if (ParamNode* p = root.Struct("Placement")) (void)p->Int("PartitionNumber", 1, 7);
  for (ParamNode* spec : root.List("TagSpecification")) {
    for (ParamNode* tag : spec->List("Tag")) (void)tag->String("Key");
  }
  if (auto unused = params->UnusedParameter()) {
    bool found = false;
    for (const auto& [name, value] : *kv) found = found || name == *unused;
    if (!found) std::abort();
  }
  return 0;
}
