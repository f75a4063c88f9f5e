#pragma once

// The instance identity document of an instance record: built from the record's fields, not
// stored. Pure.
//
// A record written by RunInstances keeps the document's fields only (instance id, owner,
// image, type, architecture, AZ, region, private address, and `identity_pending_time_ms`: the
// first launch, which a StartInstances does not move). Records written by earlier versions carry
// the document's text in `identity_document`; record_migration.h turns the ones whose text is
// what the fields give into the current shape, and a text that differs is served as stored, so
// what agents already hold (and its signatures) never changes under them.

#include <string>

#include "minicloud/v1/records.pb.h"

namespace minicloud::controller {

// The document text (EC2's layout, identity::BuildIdentityDocument): the stored text when the
// record carries one, otherwise built from its fields; "" for a record from before identity
// documents existed (neither text nor pending time), which gets no document.
std::string IdentityDocumentOf(const v1::InstanceRecord& r);

// The document built from the record's fields alone (ignores a stored text); "" when the record
// has no pending time.
std::string IdentityDocumentFromFields(const v1::InstanceRecord& r);

}  // namespace minicloud::controller
