// bench_query_client: the load generator of bench/query (run it with bench/query/run.sh).
//
// Closed loop: --threads threads, each with its own connection per peer, send one call after the
// other for --seconds (and at least --min-requests per cell in all), and every answer is checked
// (HTTP 200 / gRPC OK, and the first answer of each cell is counted for instances). Peers:
//   grpc   the controller's gRPC API (minicloud.v1.ComputeService), the stub the CLI uses, each
//          call signed with SigV4 as the CLI signs it (metadata)
//   query  the controller's EC2 Query API: POST / form bodies signed with SigV4 (header form,
//          common/auth's signer, the controller's access key), parsed with Boost.Beast
//   moto   moto's server mode, the same HTTP client and the same signed bodies (moto accepts any
//          signature)
// Calls: describe-all (DescribeInstances, no parameters), describe-filter (one instance-type
// filter selecting 1% of the controller's instances), run (RunInstances of one t3.micro).
// Every round runs each call on each peer once, the peers' order rotating round by round; the
// ratio query/grpc (and query/moto) of each round's requests/s is summarised as a geometric mean
// with a 95% t-interval over the rounds. Latency percentiles pool every request of all rounds.
//
//   bench_query_client --sigv4-cost [--iterations=N]
// times the controller's SigV4 verifier (controller/auth) on a signed DescribeInstances request,
// single-threaded, and the signing-key derivation alone.

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/auth/grpc_request.h"
#include "common/auth/sigv4.h"
#include "common/clock.h"
#include "controller/auth/access_key_lookup.h"
#include "controller/auth/sigv4_verifier.h"
#include "minicloud/v1/compute.grpc.pb.h"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace sigv4 = minicloud::auth::sigv4;
namespace v1 = minicloud::v1;
using Clock = std::chrono::steady_clock;

namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench_query_client: %s\n", what.c_str());
  std::exit(1);
}

std::string Flag(int argc, char** argv, const std::string& name, const std::string& def) {
  const std::string prefix = "--" + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--" + name) return "1";
    if (std::string(argv[i]).rfind(prefix, 0) == 0) return std::string(argv[i] + prefix.size());
  }
  return def;
}

double NumFlag(int argc, char** argv, const std::string& name, double def) {
  double v = def;
  if (!absl::SimpleAtod(Flag(argc, argv, name, absl::StrCat(def)), &v)) {
    Die("--" + name + " wants a number");
  }
  return v;
}

enum class Call { kDescribeAll, kDescribeFilter, kRun };
const char* CallName(Call c) {
  switch (c) {
    case Call::kDescribeAll:
      return "DescribeInstances (all)";
    case Call::kDescribeFilter:
      return "DescribeInstances (filter)";
    case Call::kRun:
      return "RunInstances (1)";
  }
  return "?";
}

struct Peer {
  std::string name;  // grpc, query, moto
  std::string endpoint;
  std::string region;
  std::string image;
  std::string filter_type;  // instance type the filter selects
};

// One HTTP/1.1 connection (kept alive while the server keeps it), SigV4-signed POSTs.
class QueryClient {
 public:
  QueryClient(std::string endpoint, sigv4::SigningCredentials creds, std::string region)
      : endpoint_(std::move(endpoint)), creds_(std::move(creds)), region_(std::move(region)) {
    std::pair<std::string, std::string> hp = absl::StrSplit(endpoint_, absl::MaxSplits(':', 1));
    host_ = hp.first;
    port_ = hp.second;
  }

  // Sends `body`; returns the response body; Die()s on anything but HTTP 200.
  std::string Post(const std::string& body) {
    minicloud::auth::SignedRequest r;
    r.method = "POST";
    r.path = "/";
    r.body = body;
    r.headers = {{"host", endpoint_},
                 {"content-type", "application/x-www-form-urlencoded; charset=utf-8"}};
    sigv4::SignRequest(r, creds_, region_, "ec2", absl::Now());
    http::request<http::string_body> req{http::verb::post, "/", 11};
    for (const auto& [n, v] : r.headers) req.set(n, v);
    req.body() = body;
    req.prepare_payload();
    for (int attempt = 0;; ++attempt) {
      if (!stream_) Connect();
      beast::error_code ec;
      http::write(*stream_, req, ec);
      http::response_parser<http::string_body> parser;
      parser.body_limit(1ull << 31);
      if (!ec) http::read(*stream_, buffer_, parser, ec);
      if (ec) {
        // A kept-alive connection the server closed meanwhile: reconnect once.
        stream_.reset();
        buffer_.clear();
        if (attempt == 0) continue;
        Die(absl::StrCat(endpoint_, ": ", ec.message()));
      }
      auto res = parser.release();
      if (!res.keep_alive()) {
        stream_.reset();
        buffer_.clear();
      }
      if (res.result_int() != 200) {
        Die(absl::StrCat(endpoint_, " answered ", res.result_int(), ": ",
                         res.body().substr(0, 600)));
      }
      return std::move(res.body());
    }
  }

 private:
  void Connect() {
    asio::ip::tcp::resolver resolver(io_);
    stream_ = std::make_unique<beast::tcp_stream>(io_);
    beast::error_code ec;
    stream_->connect(resolver.resolve(host_, port_), ec);
    if (ec) Die(absl::StrCat("connect ", endpoint_, ": ", ec.message()));
    stream_->socket().set_option(asio::ip::tcp::no_delay(true));
  }

  std::string endpoint_, host_, port_;
  sigv4::SigningCredentials creds_;
  std::string region_;
  asio::io_context io_;
  std::unique_ptr<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

std::string QueryBody(Call call, const Peer& p) {
  std::string b = "Version=2016-11-15&Action=";
  switch (call) {
    case Call::kDescribeAll:
      return b + "DescribeInstances";
    case Call::kDescribeFilter:
      return b + "DescribeInstances&Filter.1.Name=instance-type&Filter.1.Value.1=" + p.filter_type;
    case Call::kRun:
      return b + "RunInstances&ImageId=" + p.image + "&InstanceType=t3.micro&MinCount=1&MaxCount=1";
  }
  return b;
}

size_t CountOccurrences(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t pos = s.find(what); pos != std::string::npos; pos = s.find(what, pos + 1)) ++n;
  return n;
}

// A connection to one peer for one thread; Do() makes one call and returns the instances in the
// answer.
class Connection {
 public:
  Connection(const Peer& p, const sigv4::SigningCredentials& creds) : peer_(p), creds_(creds) {
    if (p.name == "grpc") {
      grpc::ChannelArguments args;
      args.SetMaxReceiveMessageSize(-1);  // 10,000 instances are more than gRPC's 4 MiB default
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own
      stub_ = v1::ComputeService::NewStub(
          grpc::CreateCustomChannel(p.endpoint, grpc::InsecureChannelCredentials(), args));
    } else {
      http_ = std::make_unique<QueryClient>(p.endpoint, creds, p.region);
    }
  }

  // `count`: count the instances of an HTTP answer (a scan of the body the client would not
  // otherwise make; done for the first answer of each cell only).
  size_t Do(Call call, bool count = true) {
    if (http_) {
      const std::string body = http_->Post(QueryBody(call, peer_));
      return count ? CountOccurrences(body, "<instanceId>") : 0;
    }
    grpc::ClientContext ctx;
    // SigV4 over the call, as the minicloud CLI signs it (common/auth/grpc_request.h).
    auto sign = [&](const char* method, const google::protobuf::Message& req) {
      for (const auto& [name, value] : minicloud::auth::SignGrpcCall(
               minicloud::auth::ComputeMethodPath(method), &req, creds_, "home-1", absl::Now())) {
        ctx.AddMetadata(name, value);
      }
    };
    grpc::Status s;
    size_t n = 0;
    if (call == Call::kRun) {
      v1::RunInstancesRequest req;
      req.set_image_id(peer_.image);
      req.set_instance_type("t3.micro");
      req.set_min_count(1);
      req.set_max_count(1);
      sign("RunInstances", req);
      v1::Reservation resp;
      s = stub_->RunInstances(&ctx, req, &resp);
      n = resp.instances_size();
    } else {
      v1::DescribeInstancesRequest req;
      if (call == Call::kDescribeFilter) {
        auto* f = req.add_filters();
        f->set_name("instance-type");
        f->add_values(peer_.filter_type);
      }
      sign("DescribeInstances", req);
      v1::DescribeInstancesResponse resp;
      s = stub_->DescribeInstances(&ctx, req, &resp);
      for (const auto& r : resp.reservations()) n += r.instances_size();
    }
    if (!s.ok()) Die(absl::StrCat("grpc: ", s.error_message()));
    return n;
  }

 private:
  Peer peer_;
  sigv4::SigningCredentials creds_;
  std::unique_ptr<v1::ComputeService::Stub> stub_;
  std::unique_ptr<QueryClient> http_;
};

struct CellResult {
  double rps = 0;
  size_t requests = 0;
  size_t instances = 0;  // in the first answer
  std::vector<double> latencies_ms;
};

CellResult RunCell(std::vector<std::unique_ptr<Connection>>& conns, Call call, double seconds,
                   size_t min_requests) {
  std::mutex mu;
  CellResult out;
  std::atomic<size_t> done{0};
  std::atomic<bool> counted{false};
  const auto start = Clock::now();
  const auto until =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  Clock::time_point last = start;
  for (auto& c : conns) {
    threads.emplace_back([&, conn = c.get()] {
      std::vector<double> mine;
      Clock::time_point my_last = start;
      while (Clock::now() < until || done.load() < min_requests) {
        const auto t0 = Clock::now();
        const bool first = !counted.exchange(true);
        const size_t n = conn->Do(call, first);
        my_last = Clock::now();
        mine.push_back(std::chrono::duration<double, std::milli>(my_last - t0).count());
        if (first) {
          std::lock_guard<std::mutex> l(mu);
          out.instances = n;
        }
        ++done;
      }
      std::lock_guard<std::mutex> l(mu);
      out.latencies_ms.insert(out.latencies_ms.end(), mine.begin(), mine.end());
      last = std::max(last, my_last);
    });
  }
  for (auto& t : threads) t.join();
  out.requests = out.latencies_ms.size();
  out.rps = out.requests / std::chrono::duration<double>(last - start).count();
  return out;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const double rank = p / 100.0 * (v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (rank - lo);
}

// Two-sided 95% Student t quantile for `df` degrees of freedom.
double T95(int df) {
  static const double kT[] = {0,     12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365,
                              2.306, 2.262,  2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
                              2.120, 2.110,  2.101, 2.093, 2.086, 2.080, 2.074, 2.069,
                              2.064, 2.060,  2.056, 2.052, 2.048, 2.045, 2.042};
  return df <= 30 ? kT[df] : 1.96;
}

// Geometric mean of the ratios and its 95% t-interval (on the logs).
std::string RatioCi(const std::vector<double>& ratios) {
  if (ratios.empty()) return "-";
  std::vector<double> logs;
  for (double r : ratios) logs.push_back(std::log(r));
  double mean = 0;
  for (double l : logs) mean += l;
  mean /= logs.size();
  if (logs.size() < 2) return absl::StrFormat("%.3fx", std::exp(mean));
  double var = 0;
  for (double l : logs) var += (l - mean) * (l - mean);
  var /= (logs.size() - 1);
  const double half = T95(static_cast<int>(logs.size()) - 1) * std::sqrt(var / logs.size());
  return absl::StrFormat("%.3fx (95%% CI %.3f-%.3f, n=%d)", std::exp(mean), std::exp(mean - half),
                         std::exp(mean + half), static_cast<int>(logs.size()));
}

int SigV4Cost(int iterations) {
  minicloud::controller::auth::InMemoryAccessKeys keys;
  const sigv4::SigningCredentials creds{"AKIABENCHBENCHBENCH0",
                                        "benchSecretKeybenchSecretKeybenchSecret0"};
  keys.Put(creds.access_key_id, {creds.secret_access_key, std::nullopt, std::nullopt});
  auto verifier =
      minicloud::controller::auth::MakeSigV4Verifier(keys, minicloud::RealClock::Get(), "home-1");
  minicloud::auth::SignedRequest r;
  r.method = "POST";
  r.path = "/";
  r.body =
      "Version=2016-11-15&Action=DescribeInstances&Filter.1.Name=instance-type&Filter.1.Value.1="
      "t3.small";
  r.headers = {{"host", "127.0.0.1:8773"},
               {"content-type", "application/x-www-form-urlencoded; charset=utf-8"},
               {"user-agent", "aws-cli/1.45.0 Python/3.11.7 Linux/6.1 botocore/1.43.0"}};
  sigv4::SignRequest(r, creds, "home-1", "ec2", absl::Now());
  auto time_us = [&](auto&& fn) {
    std::vector<double> batches;
    for (int b = 0; b < 5; ++b) {
      const auto t0 = Clock::now();
      for (int i = 0; i < iterations; ++i) fn();
      batches.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count() /
                        iterations);
    }
    return Percentile(batches, 50);
  };
  const double verify = time_us([&] {
    auto c = verifier->Verify(r, "ec2");
    if (!c.ok()) Die(c.status().ToString());
  });
  volatile size_t sink = 0;
  const double derive = time_us([&] {
    sink += sigv4::DeriveSigningKey(creds.secret_access_key, "20261204", "home-1", "ec2").size();
  });
  std::printf("sigv4_verify_us=%.2f derive_signing_key_us=%.2f iterations=%d body_bytes=%zu\n",
              verify, derive, iterations * 5, r.body.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (Flag(argc, argv, "sigv4-cost", "") == "1") {
    return SigV4Cost(static_cast<int>(NumFlag(argc, argv, "iterations", 20000)));
  }
  const int rounds = static_cast<int>(NumFlag(argc, argv, "rounds", 5));
  const double seconds = NumFlag(argc, argv, "seconds", 3);
  const int threads = static_cast<int>(NumFlag(argc, argv, "threads", 4));
  const size_t min_requests = static_cast<size_t>(NumFlag(argc, argv, "min-requests", 3));
  const sigv4::SigningCredentials creds{Flag(argc, argv, "key", ""),
                                        Flag(argc, argv, "secret", "")};
  std::vector<Peer> peers;
  peers.push_back(
      {"grpc", Flag(argc, argv, "grpc", ""), "", Flag(argc, argv, "image", ""), "t3.small"});
  peers.push_back({"query", Flag(argc, argv, "query", ""), Flag(argc, argv, "region", "home-1"),
                   Flag(argc, argv, "image", ""), "t3.small"});
  if (!Flag(argc, argv, "moto", "").empty()) {
    peers.push_back({"moto", Flag(argc, argv, "moto", ""), "us-east-1",
                     Flag(argc, argv, "moto-image", ""), "t3.small"});
  }
  // --only=NAME keeps one peer (profiling runs); the ratios need grpc and query.
  if (const std::string only = Flag(argc, argv, "only", ""); !only.empty()) {
    std::erase_if(peers, [&](const Peer& p) { return p.name != only; });
    if (peers.empty()) Die("--only names no peer");
  }
  std::vector<Call> calls;
  for (absl::string_view c :
       absl::StrSplit(Flag(argc, argv, "calls", "describe-all,describe-filter,run"), ',')) {
    if (c == "describe-all")
      calls.push_back(Call::kDescribeAll);
    else if (c == "describe-filter")
      calls.push_back(Call::kDescribeFilter);
    else if (c == "run")
      calls.push_back(Call::kRun);
    else
      Die(absl::StrCat("unknown call ", c));
  }

  // conns[peer][thread]
  std::vector<std::vector<std::unique_ptr<Connection>>> conns(peers.size());
  for (size_t p = 0; p < peers.size(); ++p) {
    for (int t = 0; t < threads; ++t) {
      conns[p].push_back(std::make_unique<Connection>(peers[p], creds));
    }
  }
  // Warm-up: one of each call on each peer.
  for (Call c : calls) {
    for (size_t p = 0; p < peers.size(); ++p) conns[p][0]->Do(c);
  }

  // results[call][peer] = per-round cells
  std::map<Call, std::vector<std::vector<CellResult>>> results;
  for (Call c : calls) results[c].resize(peers.size());
  for (int r = 0; r < rounds; ++r) {
    for (Call c : calls) {
      for (size_t k = 0; k < peers.size(); ++k) {
        const size_t p = (k + r) % peers.size();
        CellResult cell = RunCell(conns[p], c, seconds, min_requests);
        std::fprintf(stderr, "round %d %-27s %-5s %8.2f req/s  %5zu requests  %6zu instances\n",
                     r + 1, CallName(c), peers[p].name.c_str(), cell.rps, cell.requests,
                     cell.instances);
        results[c][p].push_back(std::move(cell));
      }
    }
  }

  std::printf("\n%-27s %-6s %10s %9s %9s %9s %10s\n", "call", "peer", "req/s(med)", "p50 ms",
              "p99 ms", "requests", "instances");
  for (Call c : calls) {
    for (size_t p = 0; p < peers.size(); ++p) {
      std::vector<double> rps, lat;
      size_t n = 0, inst = 0;
      for (const CellResult& cell : results[c][p]) {
        rps.push_back(cell.rps);
        lat.insert(lat.end(), cell.latencies_ms.begin(), cell.latencies_ms.end());
        n += cell.requests;
        inst = cell.instances;
      }
      std::printf("%-27s %-6s %10.2f %9.2f %9.2f %9zu %10zu\n", CallName(c), peers[p].name.c_str(),
                  Percentile(rps, 50), Percentile(lat, 50), Percentile(lat, 99), n, inst);
    }
  }
  if (peers.size() < 2 || peers[1].name != "query") return 0;
  std::printf("\nratios of requests/s, geometric mean over rounds:\n");
  for (Call c : calls) {
    for (size_t other = 0; other < peers.size(); ++other) {
      if (peers[other].name == "query") continue;
      std::vector<double> ratios;
      for (int r = 0; r < rounds; ++r) {
        ratios.push_back(results[c][1][r].rps / results[c][other][r].rps);
      }
      std::printf("%-27s query/%-5s %s\n", CallName(c), peers[other].name.c_str(),
                  RatioCi(ratios).c_str());
    }
  }
  return 0;
}
