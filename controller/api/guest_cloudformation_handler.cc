// HostService.GuestCloudFormation: a guest's request to the CloudFormation endpoint on the
// metadata address, forwarded by the host that runs the guest (agent/metadata/guest_routes.h).
// The host's certificate names the host; the instance must be placed there; the endpoint then
// answers as that instance (controller/query/guest_cloudformation.h).
#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/ids.h"
#include "common/logging.h"
#include "common/request_id.h"
#include "controller/api/grpc_handlers.h"
#include "controller/api/host_peer.h"

namespace minicloud::controller {

std::string HostHandler::NextRequestId() {
  std::lock_guard<std::mutex> lock(request_ids_mu_);
  const uint64_t a = request_ids_();
  const uint64_t b = request_ids_();
  return RequestIdFromRandom(a, b);
}

grpc::Status HostHandler::GuestCloudFormation(grpc::ServerContext* ctx,
                                              const v1::GuestCloudFormationRequest* req,
                                              v1::GuestCloudFormationResponse* resp) {
  if (auto s = CheckCallerIsHost(*ctx, req->host_id(), enrollment_); !s.ok()) {
    spdlog::warn("CloudFormation request for instance {} refused: {}",
                 QuoteForMessage(req->instance_id()), s.message());
    return ToGrpcStatus(s);
  }
  // One instance cannot speak for another: the host vouches only for its own guests.
  if (auto s = fleet_.CheckGuestOfHost(req->host_id(), req->instance_id()); !s.ok()) {
    spdlog::warn("CloudFormation request from host {} refused: {}", req->host_id(), s.message());
    return ToGrpcStatus(s);
  }
  if (guest_cloudformation_ == nullptr) {
    resp->set_status(503);
    resp->set_content_type("text/plain; charset=utf-8");
    resp->set_body("CloudFormation is not available\n");
    return grpc::Status::OK;
  }
  query::HttpRequest request;
  request.method = req->method();
  request.target = req->target();
  request.headers.reserve(req->headers_size());
  for (const v1::GuestHttpHeader& h : req->headers())
    request.headers.emplace_back(h.name(), h.value());
  request.body = req->body();
  const query::HttpResponse answer =
      guest_cloudformation_->HandleGuest(request, req->instance_id(), NextRequestId());
  resp->set_status(answer.status);
  resp->set_content_type(answer.content_type);
  resp->set_body(answer.body);
  return grpc::Status::OK;
}

}  // namespace minicloud::controller
