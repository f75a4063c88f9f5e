#pragma once

// Test-only ComputeApi: records every request and answers from queues of canned responses, and a
// harness that runs the whole `minicloud` command (RunCli) against it with captured streams.

#include <google/protobuf/text_format.h>
#include <google/protobuf/util/message_differencer.h>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/app.h"
#include "cli/compute_api.h"

namespace minicloud::cli::testing {

class FakeComputeApi : public ComputeApi {
 public:
  struct Sent {
    std::string operation;
    std::shared_ptr<google::protobuf::Message> request;
  };

  void Send(const char* operation, const google::protobuf::Message& request,
            google::protobuf::Message& response, const Invoker& /*invoke*/) override {
    std::shared_ptr<google::protobuf::Message> copy(request.New());
    copy->CopyFrom(request);
    sent_.push_back({operation, copy});
    auto it = answers_.find(operation);
    if (it == answers_.end() || it->second.empty()) return;  // an empty response
    Canned a = it->second.front();
    if (it->second.size() > 1) it->second.pop_front();  // the last answer repeats
    if (a.error) throw *a.error;
    response.CopyFrom(*a.response);
  }

  // The next answer to `operation` (answers are used in order; the last one repeats).
  void Answer(const std::string& operation, const google::protobuf::Message& response) {
    std::shared_ptr<google::protobuf::Message> copy(response.New());
    copy->CopyFrom(response);
    answers_[operation].push_back({copy, std::nullopt});
  }
  // Same, from text format: Answer<v1::DescribeHostsResponse>("DescribeHosts", "hosts {...}").
  template <typename Resp>
  void Answer(const std::string& operation, const std::string& text) {
    Resp r;
    if (!google::protobuf::TextFormat::ParseFromString(text, &r)) {
      throw std::runtime_error("bad text proto for " + operation + ": " + text);
    }
    Answer(operation, r);
  }
  void Fail(const std::string& operation, ServiceError error) {
    answers_[operation].push_back({nullptr, std::move(error)});
  }

  const std::vector<Sent>& sent() const { return sent_; }

 private:
  struct Canned {
    std::shared_ptr<google::protobuf::Message> response;
    std::optional<ServiceError> error;
  };
  std::map<std::string, std::deque<Canned>> answers_;
  std::vector<Sent> sent_;
};

struct CliResult {
  int exit_code = -1;
  std::string out, err;
  GlobalOptions globals;  // as the verb saw them
};

// Runs `minicloud <args...>` against `api`; sleeps of waiters are counted, not slept.
class CliHarness {
 public:
  FakeComputeApi api;
  int sleeps = 0;

  CliResult Run(const std::vector<std::string>& args) {
    CliResult result;
    std::ostringstream out, err;
    CliEnvironment env;
    env.default_endpoint = "127.0.0.1:7700";
    env.make_api = [&](const GlobalOptions& g) -> std::unique_ptr<ComputeApi> {
      result.globals = g;
      return std::make_unique<Forward>(api);
    };
    env.out = &out;
    env.err = &err;
    env.sleep = [this](std::chrono::milliseconds) { ++sleeps; };
    std::vector<const char*> argv = {"minicloud"};
    for (const auto& a : args) argv.push_back(a.c_str());
    result.exit_code = RunCli(static_cast<int>(argv.size()), argv.data(), env);
    result.out = out.str();
    result.err = err.str();
    return result;
  }

 private:
  struct Forward : ComputeApi {
    explicit Forward(FakeComputeApi& to) : to(to) {}
    void Send(const char* operation, const google::protobuf::Message& request,
              google::protobuf::Message& response, const Invoker& invoke) override {
      to.Send(operation, request, response, invoke);
    }
    FakeComputeApi& to;
  };
};

// The request as text format, for readable test failures.
inline std::string TextOf(const google::protobuf::Message& m) {
  std::string text;
  google::protobuf::TextFormat::PrintToString(m, &text);
  return text;
}

// True when `m` equals the message of the same type written as `text`.
inline bool EqualsText(const google::protobuf::Message& m, const std::string& text) {
  std::unique_ptr<google::protobuf::Message> want(m.New());
  if (!google::protobuf::TextFormat::ParseFromString(text, want.get())) {
    throw std::runtime_error("bad text proto: " + text);
  }
  return google::protobuf::util::MessageDifferencer::Equals(m, *want);
}

}  // namespace minicloud::cli::testing
