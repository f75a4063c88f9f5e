#pragma once

// A real HTTP server on 127.0.0.1, port 0, for the guest helpers' tests: serves what `handler`
// answers, records every request. One connection at a time (the helpers open one per request).

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace minicloud::guest::testing {

struct Recorded {
  std::string method, target, body;
  std::map<std::string, std::string> headers;
};

struct Canned {
  int status = 200;
  std::string body;
};

class LoopbackServer {
 public:
  using Handler = std::function<Canned(const Recorded&)>;
  explicit LoopbackServer(Handler handler)
      : handler_(std::move(handler)),
        acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { Serve(); });
  }
  ~LoopbackServer() {
    stopping_ = true;
    boost::system::error_code ec;
    // Wake the blocking accept with a connection of our own.
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket s(io);
    s.connect({boost::asio::ip::make_address("127.0.0.1"), port_}, ec);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<Recorded> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  void Serve() {
    namespace http = boost::beast::http;
    while (true) {
      boost::system::error_code ec;
      boost::asio::ip::tcp::socket socket(io_);
      acceptor_.accept(socket, ec);
      if (stopping_) return;
      if (ec) continue;
      boost::beast::flat_buffer buffer;
      http::request<http::string_body> req;
      http::read(socket, buffer, req, ec);
      if (ec) continue;
      Recorded r{std::string(req.method_string()), std::string(req.target()), req.body(), {}};
      for (const auto& f : req) r.headers[std::string(f.name_string())] = std::string(f.value());
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(r);
      }
      Canned c = handler_(r);
      http::response<http::string_body> res{static_cast<http::status>(c.status), 11};
      res.set(http::field::content_type, "application/json");
      res.body() = c.body;
      res.prepare_payload();
      http::write(socket, res, ec);
      socket.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    }
  }

  Handler handler_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::vector<Recorded> requests_;
  std::thread thread_;
};

// A DescribeStackResource answer in the guest endpoint's JSON shape, Metadata as a JSON text.
inline std::string DescribeAnswer(const nlohmann::json& metadata,
                                  const std::string& logical_id = "Web") {
  nlohmann::json detail = {{"StackId", "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1"},
                           {"StackName", "s"},
                           {"LogicalResourceId", logical_id},
                           {"PhysicalResourceId", "i-0123456789abcdef0"},
                           {"ResourceType", "AWS::EC2::Instance"},
                           {"ResourceStatus", "CREATE_IN_PROGRESS"},
                           {"LastUpdatedTimestamp", 1733000000},
                           {"Metadata", metadata.dump()}};
  return nlohmann::json{{"DescribeStackResourceResponse",
                         {{"DescribeStackResourceResult", {{"StackResourceDetail", detail}}},
                          {"ResponseMetadata", {{"RequestId", "r-1"}}}}}}
      .dump();
}

inline std::map<std::string, std::string> ParseForm(const std::string& body) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start < body.size()) {
    size_t amp = body.find('&', start);
    std::string pair = body.substr(start, amp == std::string::npos ? amp : amp - start);
    std::string key = pair.substr(0, pair.find('='));
    std::string raw = pair.find('=') == std::string::npos ? "" : pair.substr(pair.find('=') + 1);
    std::string value;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '%' && i + 2 < raw.size()) {
        value += static_cast<char>(std::stoi(raw.substr(i + 1, 2), nullptr, 16));
        i += 2;
      } else {
        value += raw[i] == '+' ? ' ' : raw[i];
      }
    }
    out[key] = value;
    if (amp == std::string::npos) break;
    start = amp + 1;
  }
  return out;
}

}  // namespace minicloud::guest::testing
