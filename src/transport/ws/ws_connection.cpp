#include "transport/ws/ws_connection.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

namespace kernelgate::detail {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

namespace {

// The two stream stacks (ws over TCP, ws over TLS over TCP) behind one small interface, so the
// connection logic is written once.
class ws_stream {
 public:
  ws_stream() = default;
  ws_stream(const ws_stream&) = delete;
  ws_stream& operator=(const ws_stream&) = delete;
  virtual ~ws_stream() = default;

  virtual asio::awaitable<void> open(const endpoint& ep, const std::string& target,
                                     const std::vector<std::string>& subprotocols, std::string& chosen) = 0;
  virtual asio::awaitable<std::size_t> read(beast::flat_buffer& buffer, boost::system::error_code& ec) = 0;
  virtual bool got_text() const = 0;
  virtual void async_write(const ws_frame& frame, std::function<void(boost::system::error_code)> done) = 0;
  virtual beast::tcp_stream& tcp() = 0;
};

// The upgrade request: token, extra headers, subprotocol offer.
template <class WS>
void decorate(WS& ws, const endpoint& ep, const std::vector<std::string>& subprotocols) {
  std::string offer;
  for (const auto& p : subprotocols) offer += (offer.empty() ? "" : ", ") + p;
  ws.set_option(websocket::stream_base::decorator([&ep, offer](websocket::request_type& req) {
    req.set(http::field::user_agent, "kernelgate");
    if (!offer.empty()) req.set(http::field::sec_websocket_protocol, offer);
    if (!ep.authorization.empty()) req.set(http::field::authorization, ep.authorization);
    for (const auto& [name, value] : ep.headers) req.set(name, value);
  }));
}

template <class Next>
class ws_stream_on final : public ws_stream {
 public:
  template <class... Args>
  explicit ws_stream_on(Args&&... args) : ws_(std::forward<Args>(args)...) {}

  asio::awaitable<void> open(const endpoint& ep, const std::string& target,
                             const std::vector<std::string>& subprotocols, std::string& chosen) override {
    co_await connect(tcp(), ep);
    if constexpr (std::is_same_v<Next, tls_stream>) co_await tls_handshake(ws_.next_layer(), ep);
    tcp().expires_never();  // the websocket stream runs its own timers from here on
    websocket::stream_base::timeout t{};
    t.handshake_timeout = ep.connect_timeout;
    t.idle_timeout = idle_timeout_;
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.auto_fragment(false);
    ws_.read_message_max(std::uint64_t{1} << 30);
    decorate(ws_, ep, subprotocols);
    websocket::response_type response;
    boost::system::error_code ec;
    co_await ws_.async_handshake(response, ep.url.host_header(), target,
                                 asio::redirect_error(asio::use_awaitable, ec));
    const std::string where = ep.url.display() + target.substr(0, target.find('?'));
    if (ec) {
      const int status = static_cast<int>(response.result_int());
      if (status >= 200 && status < 300) {
        // A success that is no upgrade: the server gave no reason to refuse, and asking again may
        // work (jupyter-server 1.23 has been seen answering 200 OK now and then).
        throw error(errc::connection_failed, status,
                    "WebSocket upgrade at " + where + " was answered " + std::to_string(status) + " " +
                        std::string(response.reason()) + " instead of 101 Switching Protocols");
      }
      if (status != 0 && status != 101) {
        throw status_error("WebSocket upgrade at " + where,
                           http_response{status, std::string(response.reason()), response.body()});
      }
      if (ec == beast::error::timeout) {
        throw error(errc::timeout, "WebSocket upgrade at " + where + " did not finish within " +
                                       std::to_string(ep.connect_timeout.count()) + " ms");
      }
      throw error(errc::connection_failed, "WebSocket upgrade at " + where + " failed: " + ec.message());
    }
    chosen = std::string(response[http::field::sec_websocket_protocol]);
  }

  asio::awaitable<std::size_t> read(beast::flat_buffer& buffer, boost::system::error_code& ec) override {
    co_return co_await ws_.async_read(buffer, asio::redirect_error(asio::use_awaitable, ec));
  }

  bool got_text() const override { return ws_.got_text(); }

  void async_write(const ws_frame& frame, std::function<void(boost::system::error_code)> done) override {
    ws_.binary(frame.kind == ws_frame_kind::binary);
    ws_.async_write(asio::buffer(frame.payload),
                    [done = std::move(done)](boost::system::error_code ec, std::size_t) { done(ec); });
  }

  beast::tcp_stream& tcp() override { return beast::get_lowest_layer(ws_); }

  std::chrono::milliseconds idle_timeout_{30'000};

 private:
  websocket::stream<Next> ws_;
};

std::string reason_of(const boost::system::error_code& ec) {
  if (ec == websocket::error::closed) return "the server closed the WebSocket";
  if (ec == beast::error::timeout) return "no traffic and no answer to pings";
  return ec.message();
}

}  // namespace

struct ws_connection::impl : std::enable_shared_from_this<impl> {
  endpoint ep;
  std::string target;
  std::vector<std::string> subprotocols;
  reconnect_policy policy;
  std::string chosen;

  std::unique_ptr<asio::io_context> io = std::make_unique<asio::io_context>();
  std::thread thread;
  ws_connection_handlers handlers;
  std::atomic<bool> usable{true};  // false once closed or failed
  std::mutex io_mutex;             // guards `io` (the pointer) against close() for posting threads
  std::atomic<bool> closing{false};

  // I/O-thread state.
  std::shared_ptr<ws_stream> stream;  // the current connection; null while down
  std::deque<ws_frame> outbox;        // front() is being written when `writing`
  bool writing = false;
  // Timers are destroyed before the context in close(), hence the pointers.
  std::unique_ptr<asio::steady_timer> started = std::make_unique<asio::steady_timer>(*io);  // start() cancels it
  bool handlers_set = false;
  std::unique_ptr<asio::steady_timer> pause = std::make_unique<asio::steady_timer>(*io);
  std::unique_ptr<asio::steady_timer> probe_timer = std::make_unique<asio::steady_timer>(*io);
  bool gone = false;  // the probe found the resource gone: no reconnecting

  impl(endpoint e, std::string t, std::vector<std::string> s, reconnect_policy p)
      : ep(std::move(e)), target(std::move(t)), subprotocols(std::move(s)), policy(p) {}

  std::string where() const { return ep.url.display() + target.substr(0, target.find('?')); }

  std::shared_ptr<ws_stream> make_stream() {
    std::shared_ptr<ws_stream> s;
    if (ep.tls) {
      auto p = std::make_shared<ws_stream_on<tls_stream>>(*io, *ep.tls);
      p->idle_timeout_ = policy.idle_timeout;
      s = p;
    } else {
      auto p = std::make_shared<ws_stream_on<beast::tcp_stream>>(*io);
      p->idle_timeout_ = policy.idle_timeout;
      s = p;
    }
    return s;
  }

  void notify(ws_link_state state, const error& why) {
    if (closing || !handlers.on_state) return;
    try {
      handlers.on_state(state, why);
    } catch (...) {  // handlers must not throw; a throwing one is ignored rather than killing the thread
    }
  }

  void pump() {
    if (writing || outbox.empty() || !stream) return;
    writing = true;
    auto s = stream;
    s->async_write(outbox.front(), [self = shared_from_this(), s](boost::system::error_code ec) {
      self->writing = false;
      rearm_quickack(s->tcp());  // the answer to what was just sent should be acknowledged at once
      if (ec) return;  // the reader notices the broken connection; the frame is sent again after it
      self->outbox.pop_front();
      self->pump();
    });
  }

  asio::awaitable<void> read_loop(std::shared_ptr<ws_stream> s, boost::system::error_code& ec) {
    if (!handlers_set) {
      boost::system::error_code wait_ec;
      started->expires_at(asio::steady_timer::time_point::max());
      co_await started->async_wait(asio::redirect_error(asio::use_awaitable, wait_ec));
    }
    beast::flat_buffer buffer;
    for (;;) {
      rearm_quickack(s->tcp());
      co_await s->read(buffer, ec);
      if (ec || closing) co_return;
      rearm_quickack(s->tcp());
      const auto data = buffer.cdata();
      const std::string_view payload(static_cast<const char*>(data.data()), data.size());
      if (handlers.on_frame) {
        try {
          handlers.on_frame(s->got_text() ? ws_frame_kind::text : ws_frame_kind::binary, payload);
        } catch (...) {  // see notify()
        }
      }
      buffer.consume(buffer.size());
    }
  }

  // The connection's whole life after the first connect: read until it breaks, then restore it.
  // A server may keep the WebSocket open after the kernel behind it is deleted (jupyter-server 1.23
  // does), so the resource is also checked over REST, now and then, while the link is up.
  asio::awaitable<void> probe() {
    if (policy.probe_target.empty()) co_return;
    for (;;) {
      probe_timer->expires_after(policy.probe_interval);
      boost::system::error_code wait_ec;
      co_await probe_timer->async_wait(asio::redirect_error(asio::use_awaitable, wait_ec));
      if (closing || !usable) co_return;
      if (!stream) continue;  // reconnecting: the WebSocket loop finds out on its own
      std::optional<http_response> r;
      try {
        r = co_await http_request(ep, make_request(ep, http::verb::get, policy.probe_target, std::nullopt));
      } catch (const error&) {
        continue;  // a network fault shows on the WebSocket too
      }
      if (closing || !usable) co_return;
      std::string why;
      if (r->status == 404) {
        why = status_error("GET " + ep.url.display() + policy.probe_target, *r).what();
      } else if (r->status == 200) {
        const auto model = nlohmann::json::parse(r->body, nullptr, false);
        if (model.is_object() && model.value("execution_state", std::string()) == "dead") {
          why = "the gateway reports the kernel at " + ep.url.display() + policy.probe_target + " dead";
        }
      }
      if (why.empty()) continue;
      gone = true;
      usable = false;
      notify(ws_link_state::failed, error(errc::websocket_closed, r->status, why));
      if (stream) {
        boost::system::error_code ec;
        stream->tcp().socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
      }
      co_return;
    }
  }

  // The first connection. An upgrade answered with a success status but not taken up is asked
  // again, as a refused TCP connection is: up to connect_retries more times, with doubling pauses.
  // Any other failure ends it at once.
  asio::awaitable<void> open_first() {
    auto wait = ep.retry_backoff;
    for (int attempt = 0;; ++attempt) {
      auto s = make_stream();
      try {
        co_await s->open(ep, target, subprotocols, chosen);
        stream = s;
        co_return;
      } catch (const error& e) {
        const bool not_taken_up = e.condition() == errc::connection_failed && e.http_status() != 0;
        if (!not_taken_up || attempt >= ep.connect_retries) throw;
      }
      pause->expires_after(wait);
      boost::system::error_code wait_ec;
      co_await pause->async_wait(asio::redirect_error(asio::use_awaitable, wait_ec));
      wait *= 2;
    }
  }

  // Runs on the context this object owns, so `this` outlives it (close() destroys the context first).
  asio::awaitable<void> run() {
    endpoint again = ep;
    again.connect_retries = 0;  // this loop does the retrying, with its own bound
    for (;;) {
      boost::system::error_code ec;
      co_await read_loop(stream, ec);
      stream.reset();
      if (closing || gone) co_return;
      notify(ws_link_state::dropped, error(errc::websocket_closed, "WebSocket " + where() + " dropped: " +
                                                                       reason_of(ec) + "; reconnecting"));
      auto wait = policy.first_pause;
      for (int attempt = 1;; ++attempt) {
        if (attempt > 1) {
          pause->expires_after(wait);
          boost::system::error_code wait_ec;
          co_await pause->async_wait(asio::redirect_error(asio::use_awaitable, wait_ec));
          wait = std::min(wait * 2, policy.max_pause);
        }
        if (closing) co_return;
        auto s = make_stream();
        try {
          std::string ignored;
          co_await s->open(again, target, subprotocols, ignored);
          stream = s;
          break;
        } catch (const error& e) {
          const bool gone = e.condition() == errc::http_status;  // 404 kernel gone, 403 token revoked...
          if (closing) co_return;
          if (gone || attempt >= policy.max_attempts) {
            usable = false;
            const std::string why = gone ? e.what()
                                         : "gave up after " + std::to_string(attempt) + " attempts; last: " + e.what();
            notify(ws_link_state::failed, error(gone ? e.condition() : errc::websocket_closed, e.http_status(),
                                                "WebSocket " + where() + " could not be restored: " + why));
            co_return;
          }
        }
      }
      if (closing) co_return;
      notify(ws_link_state::restored, error(errc::websocket_closed, "WebSocket " + where() + " restored"));
      pump();
    }
  }
};

ws_connection::ws_connection(endpoint ep, std::string target, std::vector<std::string> subprotocols,
                             reconnect_policy policy)
    : impl_(std::make_shared<impl>(std::move(ep), std::move(target), std::move(subprotocols), policy)) {
  auto& i = *impl_;
  // The first connection is made on the I/O context but before the thread exists, so a failure is
  // simply thrown here (every step has a deadline: connect, TLS and upgrade).
  std::exception_ptr failure;
  bool finished = false;
  asio::co_spawn(*i.io, i.open_first(), [&failure, &finished](std::exception_ptr e) {
    failure = e;
    finished = true;
  });
  // Until the attempts end, not until the context runs out of work: a refused upgrade leaves the
  // WebSocket's handshake timer armed, which must not hold the caller for its whole duration.
  while (!finished && i.io->run_one() > 0) {
  }
  i.io->restart();
  if (!finished)
    throw error(errc::connection_failed, "WebSocket " + i.where() + ": the connection attempt never completed");
  if (failure) std::rethrow_exception(failure);
  asio::co_spawn(*i.io, i.run(), asio::detached);
  asio::co_spawn(*i.io, i.probe(), asio::detached);
  i.thread = std::thread([io = i.io.get()] { io->run(); });
}

ws_connection::~ws_connection() { close(); }

const std::string& ws_connection::subprotocol() const noexcept { return impl_->chosen; }

void ws_connection::start(ws_connection_handlers handlers) {
  std::lock_guard lock(impl_->io_mutex);
  if (!impl_->io) throw error(errc::not_connected, "WebSocket " + impl_->where() + " is closed");
  asio::post(*impl_->io, [self = impl_, h = std::move(handlers)]() mutable {
    self->handlers = std::move(h);
    self->handlers_set = true;
    self->started->cancel();
  });
}

void ws_connection::send(ws_frame frame) {
  std::lock_guard lock(impl_->io_mutex);
  if (!impl_->usable || !impl_->io) {
    throw error(errc::not_connected, "WebSocket " + impl_->where() + " is closed; cannot send");
  }
  asio::post(*impl_->io, [self = impl_, f = std::move(frame)]() mutable {
    self->outbox.push_back(std::move(f));
    self->pump();
  });
}

void ws_connection::close() noexcept {
  auto& i = *impl_;
  {
    std::lock_guard lock(i.io_mutex);
    if (!i.io) return;
    i.closing = true;
    i.usable = false;
  }
  i.io->stop();
  if (i.thread.joinable()) i.thread.join();
  // Destroying the context destroys the suspended coroutines and handlers, which release the socket.
  i.stream.reset();
  i.started.reset();
  i.pause.reset();
  i.probe_timer.reset();
  std::lock_guard lock(i.io_mutex);
  i.io.reset();
}

std::string ws_connection::describe() const { return impl_->where(); }

}  // namespace kernelgate::detail
