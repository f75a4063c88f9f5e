#include "agent/metadata/server.h"

#include <netinet/in.h>
#include <netinet/ip.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "agent/metadata/cfn_bootstrap_archive.h"
#include "agent/metadata/cloudformation_forwards.h"
#include "agent/metadata/guest_routes.h"
#include "agent/metadata/hop_limit.h"
#include "agent/metadata/http_codec.h"
#include "agent/metadata/token_buckets.h"
#include "common/logging.h"
#include "common/string_view_compat.h"

namespace minicloud::metadata {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

std::chrono::nanoseconds Chrono(absl::Duration d) { return absl::ToChronoNanoseconds(d); }

// IPv4-mapped IPv6 peers are accounted and looked up as IPv4.
asio::ip::address Normalize(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  }
  return a;
}

// "Mon, 02 Jan 2006 15:04:05 GMT", cached per second per thread.
const std::string& HttpDate(absl::Time now) {
  thread_local int64_t cached_second = -1;
  thread_local std::string cached;
  const int64_t sec = absl::ToUnixSeconds(now);
  if (sec != cached_second) {
    cached = absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", now, absl::UTCTimeZone());
    cached_second = sec;
  }
  return cached;
}

// Accept errors that concern only the connection being accepted (it went away, or a firewall
// refused it): the next accept may succeed at once. Everything else (EMFILE, ENFILE, ENOBUFS,
// ENOMEM, ...) persists for a while, and retrying at once only spins.
bool IsConnectionOwnFault(const boost::system::error_code& ec) {
  return ec == asio::error::connection_aborted || ec.value() == EPROTO || ec.value() == EPERM;
}

}  // namespace

int ConnectionCap(int configured, uint64_t fd_limit) {
  const uint64_t half = fd_limit / 2;
  const uint64_t cap = std::min<uint64_t>(static_cast<uint64_t>(std::max(configured, 1)), half);
  return static_cast<int>(std::max<uint64_t>(cap, 1));
}

// State shared by the acceptors and every connection. Declared before the io_context in Impl so
// that it outlives the handlers the io_context destroys.
struct Server::Impl {
  Impl(ServerOptions o, InstanceLookup l, TokenAuthority t, const Clock& c, Observer obs)
      : opts(std::move(o)),
        lookup(std::move(l)),
        tokens(std::move(t)),
        clock(c),
        observer(std::move(obs)) {}

  const ServerOptions opts;
  const InstanceLookup lookup;
  const TokenAuthority tokens;
  const Clock& clock;
  const Observer observer;

  // One listening socket, with the timer that resumes accepting after a failure.
  struct Listener {
    explicit Listener(const asio::any_io_executor& ex) : acceptor(ex), retry(ex) {}
    tcp::acceptor acceptor;
    asio::steady_timer retry;
    absl::Duration backoff = absl::ZeroDuration();  // pause after the last failure; 0 when fine
  };

  mutable std::mutex mu;
  std::map<asio::ip::address, int> conns_per_source;  // guarded by mu
  int conns_total = 0;                                // guarded by mu
  int max_connections = 0;                            // guarded by mu; set by Start()
  TokenBuckets buckets{opts.requests_per_second, std::max(1.0, opts.burst)};  // guarded by mu
  ServerStats stats;                                                          // guarded by mu
  std::vector<tcp::endpoint> bound;                                           // guarded by mu
  // Accept-failure reporting (guarded by mu): failures since the last line, when it was written,
  // and whether a failure was reported that no "accepting again" line has followed yet.
  uint64_t accept_errors_unreported = 0;
  std::optional<std::chrono::steady_clock::time_point> last_accept_report;
  bool accept_failure_reported = false;
  std::atomic<bool> accept_failing{false};  // fast path of a successful accept

  std::optional<asio::io_context> ioc;
  std::vector<std::unique_ptr<Listener>> acceptors;
  std::vector<std::thread> threads;
  bool started = false;
  class Session;
  CloudFormationForwards forwards;
  CfnBootstrapArchive archive{opts.cfn_bootstrap_archive, opts.max_archive_bytes};

  bool AddConnection(const asio::ip::address& peer) {
    std::lock_guard<std::mutex> lock(mu);
    int& n = conns_per_source[peer];
    if (n >= opts.max_connections_per_source || conns_total >= max_connections) {
      if (n == 0) conns_per_source.erase(peer);
      ++stats.connections_rejected;
      return false;
    }
    ++n;
    ++conns_total;
    ++stats.connections_accepted;
    return true;
  }

  void RemoveConnection(const asio::ip::address& peer) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = conns_per_source.find(peer);
    if (it != conns_per_source.end() && --it->second <= 0) conns_per_source.erase(it);
    --conns_total;
  }

  // Token bucket per key; true when the request may proceed.
  bool TakeToken(const std::string& key, absl::Time now) {
    std::lock_guard<std::mutex> lock(mu);
    ++stats.requests;
    if (opts.requests_per_second <= 0 || buckets.Take(key, now)) return true;
    ++stats.throttled;
    return false;
  }

  void Count(uint64_t ServerStats::*field) {
    std::lock_guard<std::mutex> lock(mu);
    ++(stats.*field);
  }

  // Counts a failed accept; writes a line at most once per accept_error_log_interval.
  void ReportAcceptFailure(const beast::error_code& ec, absl::Duration pause) {
    const auto now = std::chrono::steady_clock::now();
    uint64_t count = 0;
    {
      std::lock_guard<std::mutex> lock(mu);
      ++stats.accept_errors;
      ++accept_errors_unreported;
      accept_failing = true;
      if (last_accept_report &&
          now - *last_accept_report < Chrono(opts.accept_error_log_interval)) {
        return;
      }
      count = accept_errors_unreported;
      accept_errors_unreported = 0;
      last_accept_report = now;
      accept_failure_reported = true;
    }
    spdlog::warn(
        "imds: accept failed: {} ({} failure(s) since the last report; next attempt in {}, "
        "reported at most every {})",
        ec.message(), count, absl::FormatDuration(pause),
        absl::FormatDuration(opts.accept_error_log_interval));
  }

  // After a successful accept: one line if a failure was reported since the last such line.
  void ReportAcceptRecovered() {
    if (!accept_failing.load(std::memory_order_relaxed)) return;
    uint64_t count = 0;
    {
      std::lock_guard<std::mutex> lock(mu);
      accept_failing = false;
      if (!accept_failure_reported) return;
      accept_failure_reported = false;
      count = accept_errors_unreported;
    }
    spdlog::info("imds: accepting connections again ({} more failure(s) since the last report)",
                 count);
  }

  asio::any_io_executor NewExecutor();
  void DoAccept(Listener* l);
  void OnAccept(Listener* l, beast::error_code ec, tcp::socket socket);
  void PauseAccept(Listener* l);
};

// One connection: read a request, answer it, repeat while keep-alive.
class Server::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Server::Impl* impl, tcp::socket socket, asio::ip::address peer)
      : impl_(impl), stream_(std::move(socket)), peer_(std::move(peer)) {
    beast::error_code ec;
    stream_.socket().set_option(tcp::no_delay(true), ec);
    is_v6_ = stream_.socket().local_endpoint(ec).address().is_v6();
  }

  ~Session() { impl_->RemoveConnection(peer_); }

  void Start() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Session::DoRead, shared_from_this()));
  }

 private:
  // The header first: the body limit depends on the route (guest_routes.h). The parser checks a
  // Content-Length against the limit while it reads the header, so that phase allows the larger
  // limit and OnHeader applies the route's own.
  void DoRead() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(impl_->opts.max_header_bytes));
    parser_->body_limit(std::max(impl_->opts.max_body_bytes, kMaxCloudFormationBody));
    stream_.expires_after(Chrono(impl_->opts.request_timeout));
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
  }

  void OnHeader(beast::error_code ec, std::size_t n) {
    if (ec) return OnRead(ec, n);
    const size_t limit =
        BodyLimitFor(AbslView(parser_->get().target()), impl_->opts.max_body_bytes);
    const auto length = parser_->content_length();
    if (length && *length > limit) return OnRead(http::error::body_limit, n);
    parser_->body_limit(limit);  // what a chunked body may still add
    if (parser_->is_done()) return OnRead(ec, n);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream) return Shutdown();
    if (ec == beast::error::timeout) {
      impl_->Count(&ServerStats::timeouts);
      return;  // the stream closed the socket
    }
    if (const std::optional<int> status = ParseErrorStatus(ec)) {
      impl_->Count(&ServerStats::bad_requests);
      SPDLOG_DEBUG("imds {}: malformed request: {}", peer_.to_string(), ec.message());
      Response r = ErrorResponse(*status);
      return Write(std::move(r), /*keep_alive=*/false, 11, "", "", "");
    }
    if (ec) return;  // reset, partial message at EOF, ...

    const auto& req = parser_->get();
    std::shared_ptr<const InstanceMetadata> instance = impl_->lookup(peer_);
    const absl::Time now = impl_->clock.Now();
    const std::string instance_id = instance ? instance->instance_id : std::string();
    const std::string bucket_key =
        instance ? absl::StrCat("i:", instance_id) : absl::StrCat("ip:", peer_.to_string());

    Response r;
    std::shared_ptr<const std::string> file;
    if (!impl_->TakeToken(bucket_key, now)) {
      r = ErrorResponse(429);
      r.headers.Add("Retry-After", "1");
    } else {
      Request hreq = ToHandlerRequest(req);
      switch (RouteOf(hreq.target)) {
        case GuestRoute::kImds:
          r = Handle(hreq, instance.get(), impl_->tokens, now, &proven_token_);
          break;
        case GuestRoute::kCfnBootstrap:
          r = impl_->archive.Serve(hreq, instance.get(), &file);
          break;
        case GuestRoute::kCloudFormation: {
          CloudFormationDecision d = DecideCloudFormation(hreq, req.body().size(), instance.get());
          if (d.answer) {
            r = *std::move(d.answer);
          } else if (!impl_->opts.cloudformation) {
            r = ForwardFailure(absl::UnavailableError("this host forwards no CloudFormation"));
          } else {
            pending_ = PendingWrite{req.keep_alive(), req.version(), instance_id, hreq.method,
                                    hreq.target};
            ForwardRequest fr{instance_id, std::move(hreq.method), std::move(d.target),
                              std::move(hreq.headers), std::move(parser_->get().body())};
            return Forward(std::move(fr));
          }
          break;
        }
      }
      if (req.method() == http::verb::head && !r.content_length) {  // headers only
        r.content_length = r.body.size();
        r.body.clear();
      }
    }
    Write(std::move(r), req.keep_alive(), req.version(), instance_id,
          std::string(req.method_string()), std::string(req.target()), std::move(file));
  }

  // Hands the request to the forwarder; the answer comes back through OnForwarded on this
  // connection's executor. Meanwhile nothing is read from the connection and no io thread waits.
  void Forward(ForwardRequest fr) {
    auto self = shared_from_this();
    impl_->Count(&ServerStats::forwarded);
    impl_->forwards.Begin(self);
    forward_pending_ = true;
    std::weak_ptr<Session> weak = self;
    impl_->opts.cloudformation(std::move(fr),
                               impl_->forwards.Deliver(stream_.get_executor(), [weak](Response r) {
                                 if (auto s = weak.lock()) s->OnForwarded(std::move(r));
                               }));
  }

  void OnForwarded(Response r) {
    if (!forward_pending_) return;  // a second answer to the same request
    forward_pending_ = false;
    impl_->forwards.End(shared_from_this());
    PendingWrite p = std::move(pending_);
    if (p.method == "HEAD" && !r.content_length) {
      r.content_length = r.body.size();
      r.body.clear();
    }
    Write(std::move(r), p.keep_alive, p.version, std::move(p.instance_id), std::move(p.method),
          std::move(p.target));
  }

  // `file` (the archive) is written after the response's header, without a copy.
  void Write(Response r, bool keep_alive, unsigned version, std::string instance_id,
             std::string method, std::string target,
             std::shared_ptr<const std::string> file = nullptr) {
    SerializeResponse(r, keep_alive, version, HttpDate(impl_->clock.Now()), &out_);
    keep_alive_ = keep_alive;
    file_ = std::move(file);

    event_ = ServedEvent{};
    event_.peer = peer_;
    event_.instance_id = std::move(instance_id);
    event_.method = std::move(method);
    event_.target = std::move(target);
    event_.status = r.status;
    event_.ttl_requested = r.ttl_for_response;
    if (r.ttl_for_response > 0) {
      event_.ttl_on_socket = SetHopLimit(stream_.socket().native_handle(), is_v6_,
                                         r.ttl_for_response, peer_.to_string());
      ttl_lowered_ = true;
    } else if (ttl_lowered_) {
      MaybeRestoreHopLimit();
    }

    stream_.expires_after(Chrono(impl_->opts.write_timeout));
    if (file_) {
      const std::array<asio::const_buffer, 2> buffers = {asio::buffer(out_), asio::buffer(*file_)};
      asio::async_write(stream_, buffers,
                        beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
      return;
    }
    asio::async_write(stream_, asio::buffer(out_),
                      beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, std::size_t) {
    file_.reset();
    if (ec == beast::error::timeout) impl_->Count(&ServerStats::timeouts);
    if (ec) return;
    if (ttl_lowered_) MaybeRestoreHopLimit();
    if (impl_->observer) impl_->observer(event_);
    if (!keep_alive_) return Shutdown();
    DoRead();
  }

  // Lingering close (as nginx does): send FIN, then read and discard what the client still sends
  // until it closes, for at most a second and 64 KiB. Closing with unread bytes would answer with
  // a RST that can destroy our last response (a 400 after oversized headers) in flight.
  void Shutdown() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return;
    drained_ = 0;
    stream_.expires_after(std::chrono::seconds(1));
    Drain();
  }

  void Drain() {
    drain_buf_.resize(4096);
    stream_.async_read_some(asio::buffer(drain_buf_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > 64 * 1024)
                                return;  // EOF, timeout, reset: the session ends
                              self->Drain();
                            });
  }

  void MaybeRestoreHopLimit() {
    if (RestoreHopLimitWhenSent(stream_.socket().native_handle(), is_v6_)) ttl_lowered_ = false;
  }

  Server::Impl* impl_;
  beast::tcp_stream stream_;
  asio::ip::address peer_;
  bool is_v6_ = false;
  bool ttl_lowered_ = false;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string out_;
  bool keep_alive_ = true;
  std::string drain_buf_;
  size_t drained_ = 0;
  ServedEvent event_;
  ProvenToken proven_token_;                 // this connection's last proven IMDSv2 token
  std::shared_ptr<const std::string> file_;  // being written after out_
  // The request a forwarded answer is for.
  struct PendingWrite {
    bool keep_alive = false;
    unsigned version = 11;
    std::string instance_id, method, target;
  };
  PendingWrite pending_;
  bool forward_pending_ = false;
};

// With one io thread every handler is already serialised; strands would only cost.
asio::any_io_executor Server::Impl::NewExecutor() {
  if (opts.threads <= 1) return ioc->get_executor();
  return asio::make_strand(*ioc);
}

void Server::Impl::DoAccept(Listener* l) {
  l->acceptor.async_accept(NewExecutor(),
                           beast::bind_front_handler(&Server::Impl::OnAccept, this, l));
}

// Out of descriptors the pending connection stays in the listen queue and accept fails again at
// once: pause this listener (doubling up to accept_backoff_max) while established connections
// go on being served and, by closing, free descriptors.
void Server::Impl::PauseAccept(Listener* l) {
  l->retry.expires_after(Chrono(std::max(l->backoff, absl::Milliseconds(1))));
  l->retry.async_wait([this, l](beast::error_code ec) {
    if (ec || !l->acceptor.is_open()) return;
    DoAccept(l);
  });
}

void Server::Impl::OnAccept(Listener* l, beast::error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !l->acceptor.is_open()) return;
  if (ec) {
    if (!IsConnectionOwnFault(ec)) {
      l->backoff = l->backoff == absl::ZeroDuration()
                       ? opts.accept_backoff_min
                       : std::min(l->backoff * 2, opts.accept_backoff_max);
      ReportAcceptFailure(ec, l->backoff);
      return PauseAccept(l);
    }
    ReportAcceptFailure(ec, absl::ZeroDuration());
  } else {
    l->backoff = absl::ZeroDuration();
    ReportAcceptRecovered();
    beast::error_code pec;
    const tcp::endpoint remote = socket.remote_endpoint(pec);
    if (!pec) {
      const asio::ip::address peer = Normalize(remote.address());
      if (AddConnection(peer)) {
        std::make_shared<Session>(this, std::move(socket), peer)->Start();
      } else {
        SPDLOG_DEBUG("imds {}: connection limit, closing", peer.to_string());
        socket.close(pec);
      }
    }
  }
  DoAccept(l);
}

Server::Server(ServerOptions options, InstanceLookup lookup, TokenAuthority tokens,
               const Clock& clock, Observer observer)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(lookup), std::move(tokens), clock,
                                   std::move(observer))) {}

Server::~Server() { Stop(); }

absl::Status Server::Start() {
  Impl& s = *impl_;
  if (s.started) return absl::FailedPreconditionError("metadata server already started");
  if (s.opts.listen.empty())
    return absl::InvalidArgumentError("metadata server: no listen address");
  rlimit nofile{};
  const uint64_t fd_limit =
      ::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY
          ? static_cast<uint64_t>(nofile.rlim_cur)
          : std::numeric_limits<uint64_t>::max();
  const int cap = ConnectionCap(s.opts.max_connections, fd_limit);
  if (cap < s.opts.max_connections) {
    spdlog::warn(
        "imds: at most {} connections (half of RLIMIT_NOFILE {}) instead of the configured {}", cap,
        fd_limit, s.opts.max_connections);
  }
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.max_connections = cap;
  }
  s.forwards.Open();  // a stopped server's gate stays closed
  s.ioc.emplace(std::max(1, s.opts.threads));
  std::vector<tcp::endpoint> bound;
  for (const tcp::endpoint& ep : s.opts.listen) {
    auto listener = std::make_unique<Impl::Listener>(s.NewExecutor());
    tcp::acceptor* acceptor = &listener->acceptor;
    beast::error_code ec;
    const std::string where =
        absl::StrCat("metadata server listen ", ep.address().to_string(), " port ", ep.port());
    acceptor->open(ep.protocol(), ec);
    if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec && ep.address().is_v6()) acceptor->set_option(asio::ip::v6_only(true), ec);
    if (!ec) {
      const int one = 1;
      // Best effort: lets us bind 169.254.169.254 before the bridge carries it.
      ::setsockopt(acceptor->native_handle(), IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
      if (ep.address().is_v6()) {
        ::setsockopt(acceptor->native_handle(), IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one));
      }
      acceptor->bind(ep, ec);
    }
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      listener.reset();  // every acceptor must go before the io_context it runs on
      s.acceptors.clear();
      s.ioc.reset();
      return absl::UnavailableError(absl::StrCat(where, ": ", ec.message()));
    }
    bound.push_back(acceptor->local_endpoint(ec));
    s.acceptors.push_back(std::move(listener));
  }
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.bound = bound;
  }
  for (auto& listener : s.acceptors) s.DoAccept(listener.get());
  for (int i = 0; i < std::max(1, s.opts.threads); ++i) {
    s.threads.emplace_back([&s] { s.ioc->run(); });
  }
  s.started = true;
  for (const auto& ep : bound) {
    spdlog::info("imds: listening on {} port {}", ep.address().to_string(), ep.port());
  }
  return absl::OkStatus();
}

void Server::Stop() {
  Impl& s = *impl_;
  if (!s.started) return;
  s.started = false;
  s.forwards.Close();
  s.ioc->stop();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
  s.forwards.ReleaseWaiters();  // their sockets go while the io_context is still there
  s.acceptors.clear();
  s.ioc.reset();  // destroys pending handlers: every session and its socket
  std::lock_guard<std::mutex> lock(s.mu);
  s.bound.clear();
}

std::vector<tcp::endpoint> Server::local_endpoints() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->bound;
}

ServerStats Server::stats() const {
  const int forwards_pending = impl_->forwards.pending();  // its own lock, never under mu
  std::lock_guard<std::mutex> lock(impl_->mu);
  ServerStats s = impl_->stats;
  s.connections_open = impl_->conns_total;
  s.connection_cap = impl_->max_connections;
  s.forwards_pending = forwards_pending;
  return s;
}

}  // namespace minicloud::metadata
