// The gateway WebSocket transport against an in-process fake gateway (Beast), for what a real
// server will not do on demand: malformed frames, pings, injected restarting/dead status, a server
// that declines the v1 subprotocol, connections cut and refused.

// Beast here must be configured exactly as in the library (CMakeLists.txt), or the two copies of
// its templates differ under the same names.
#define BOOST_ASIO_NO_DEPRECATED
#define BOOST_BEAST_USE_STD_STRING_VIEW

#include "kernelgate/client/transport.hpp"
#include "kernelgate/error.hpp"
#include "kernelgate/gateway/gateway_transport.hpp"
#include "kernelgate/wire/ws_codec.hpp"
#include "support.hpp"

#include <utility>  // before Asio (std::exchange)

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace kg = kernelgate;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

const std::string kernel_id = "11111111-2222-3333-4444-555555555555";

using ws_type = websocket::stream<tcp::socket>;

// Accepts connections one after another and runs `script` on each (with its index and request target).
// The first `not_taken_up` upgrade requests are answered 200 OK, as jupyter-server now and then does.
class fake_gateway {
 public:
  using script_type = std::function<void(ws_type&, int, const std::string&)>;
  fake_gateway(bool choose_v1, script_type script, int not_taken_up = 0)
      : choose_v1_(choose_v1), script_(std::move(script)), not_taken_up_(not_taken_up) {
    thread_ = std::thread([this] { run(); });
  }
  ~fake_gateway() {
    stop_accepting();
    thread_.join();
  }
  [[nodiscard]] std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }
  void stop_accepting() { ::shutdown(acceptor_.native_handle(), SHUT_RDWR); }

 private:
  void run() {
    for (int i = 0;; ++i) {
      tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec) return;
      beast::flat_buffer buffer;
      http::request<http::string_body> req;
      http::read(socket, buffer, req, ec);
      if (ec || !websocket::is_upgrade(req)) continue;
      if (upgrades_seen_++ < not_taken_up_) {
        http::response<http::empty_body> res{http::status::ok, req.version()};
        res.keep_alive(false);
        http::write(socket, res, ec);
        continue;
      }
      ws_type ws(std::move(socket));
      const bool v1 = choose_v1_ && req[http::field::sec_websocket_protocol].find(kg::ws_v1_subprotocol) != std::string_view::npos;
      ws.set_option(websocket::stream_base::decorator([v1](websocket::response_type& res) {
        if (v1) res.set(http::field::sec_websocket_protocol, kg::ws_v1_subprotocol);
      }));
      ws.accept(req, ec);
      if (ec) continue;
      try {
        script_(ws, i, std::string(req.target()));
      } catch (const std::exception&) {  // the client went away: next connection
      }
    }
  }

  bool choose_v1_;
  script_type script_;
  int not_taken_up_ = 0;
  std::atomic<int> upgrades_seen_{0};
  asio::io_context io_;
  tcp::acceptor acceptor_{io_, {asio::ip::address_v4::loopback(), 0}};
  std::thread thread_;
};

kg::message reply_to(const kg::message& request, std::string_view type, kg::channel chan, nlohmann::json content) {
  kg::session_identity server;
  return kg::make_message(type, std::move(content), server, chan, &request);
}

// What the transport delivered, with waits that end at a deadline.
struct recorder {
  std::mutex m;
  std::condition_variable cv;
  std::vector<kg::message> messages;
  std::vector<kg::errc> dropped;
  std::vector<kg::peer_event> events;

  kg::transport_handlers handlers() {
    return {.on_message = [this](kg::message msg) { add([&] { messages.push_back(std::move(msg)); }); },
            .on_dropped = [this](const kg::error& e) { add([&] { dropped.push_back(e.condition()); }); },
            .on_peer = [this](const kg::peer_event& e) { add([&] { events.push_back(e); }); }};
  }
  template <class F>
  void add(F f) {
    std::lock_guard lock(m);
    f();
    cv.notify_all();
  }
  template <class Pred>
  bool wait(Pred pred) {
    std::unique_lock lock(m);
    return cv.wait_for(lock, 20s, [&] { return pred(); });
  }
  bool has_event(kg::peer_state s) {
    return std::any_of(events.begin(), events.end(), [s](const auto& e) { return e.state == s; });
  }
};

std::string session_of(const std::string& target) { return target.substr(target.find("session_id=") + 11); }

}  // namespace

TEST_CASE("v1: malformed frames are dropped and reported; pings answered; server status becomes peer events") {
  std::mutex m;
  std::vector<std::string> sessions;
  std::atomic<bool> pong{false};
  fake_gateway gw(true, [&](ws_type& ws, int index, const std::string& target) {
    {
      std::lock_guard lock(m);
      sessions.push_back(session_of(target));
    }
    beast::flat_buffer buf;
    kg::message request = kg::make_message("kernel_info_request", nlohmann::json::object(), kg::session_identity{},
                                           kg::channel::shell);
    if (index == 0) {
      ws.read(buf);
      request = kg::decode_ws(kg::ws_frame_kind::binary, beast::buffers_to_string(buf.data()), kg::ws_protocol::v1);
      CHECK(request.msg_type() == "kernel_info_request");
    }
    if (index == 0) {
      ws.binary(true);
      ws.write(asio::buffer(std::string("\x02\x00\x00garbage", 10)));
      ws.text(true);
      ws.write(asio::buffer(std::string("{\"not\": \"v1\"}")));
      ws.control_callback([&](websocket::frame_type kind, beast::string_view) {
        if (kind == websocket::frame_type::pong) pong = true;
      });
      ws.ping({});
      ws.binary(true);
      ws.write(asio::buffer(kg::encode_ws(reply_to(request, "kernel_info_reply", kg::channel::shell, {{"status", "ok"}}),
                                          kg::ws_protocol::v1).payload));
      ws.write(asio::buffer(kg::encode_ws(reply_to(request, "status", kg::channel::iopub, {{"execution_state", "restarting"}}),
                                          kg::ws_protocol::v1).payload));
      buf.clear();
      ws.read(buf);  // the client's next request; the pong arrived before it
      ws.next_layer().shutdown(tcp::socket::shutdown_both);  // a network fault, no close frame
      return;
    }
    ws.binary(true);
    ws.write(asio::buffer(kg::encode_ws(reply_to(request, "kernel_info_reply", kg::channel::shell, {{"status", "ok"}}),
                                        kg::ws_protocol::v1).payload));
    ws.write(asio::buffer(kg::encode_ws(reply_to(request, "status", kg::channel::iopub, {{"execution_state", "dead"}}),
                                        kg::ws_protocol::v1).payload));
    buf.clear();
    boost::system::error_code ec;
    ws.read(buf, ec);  // until the client goes
  });

  recorder rec;
  auto t = kg::make_gateway_transport({.gateway = {.url = gw.url(), .token = "t"},
                                       .kernel_id = kernel_id,
                                       .first_reconnect_pause = 10ms,
                                       .liveness_interval = std::chrono::hours(1)});
  t->start(rec.handlers());
  kg::session_identity me;
  auto req = kg::make_message("kernel_info_request", nlohmann::json::object(), me, kg::channel::shell);
  t->send(req);
  REQUIRE(rec.wait([&] { return rec.messages.size() >= 2 && rec.has_event(kg::peer_state::restarting); }));
  {
    std::lock_guard lock(rec.m);
    CHECK(rec.dropped == std::vector<kg::errc>{kg::errc::malformed_message, kg::errc::malformed_message});
    CHECK(rec.messages[0].msg_type() == "kernel_info_reply");
    CHECK(rec.messages[0].parent_msg_id() == req.msg_id());
    CHECK(rec.messages[1].chan == kg::channel::iopub);
    CHECK(rec.has_event(kg::peer_state::restarting));
  }
  // Trigger the server's cut; the transport reconnects with the same session_id and goes on.
  t->send(kg::make_message("kernel_info_request", nlohmann::json::object(), me, kg::channel::shell));
  REQUIRE(rec.wait([&] { return rec.has_event(kg::peer_state::reconnecting) && rec.has_event(kg::peer_state::reconnected); }));
  REQUIRE(rec.wait([&] { return rec.messages.size() >= 4; }));
  REQUIRE(rec.wait([&] { return rec.has_event(kg::peer_state::dead); }));
  {
    std::lock_guard lock(m);
    CHECK(pong);
    REQUIRE(sessions.size() == 2);
    CHECK(sessions[0] == sessions[1]);
  }
  t->close();
  t->close();
  CHECK_FALSE(t->is_open());
  CHECK_THROWS_AS(t->send(req), kg::error);
}

TEST_CASE("legacy: a server that declines v1 gets JSON text frames; iopub and heartbeat cannot be sent") {
  fake_gateway gw(false, [&](ws_type& ws, int, const std::string&) {
    beast::flat_buffer buf;
    ws.read(buf);
    CHECK(ws.got_text());
    const auto request =
        kg::decode_ws(kg::ws_frame_kind::text, beast::buffers_to_string(buf.data()), kg::ws_protocol::legacy);
    auto reply = reply_to(request, "kernel_info_reply", kg::channel::shell, {{"status", "ok"}});
    ws.text(true);
    ws.write(asio::buffer(kg::encode_ws(reply, kg::ws_protocol::legacy).payload));
    auto with_buffer = reply_to(request, "display_data", kg::channel::iopub, {{"data", nlohmann::json::object()}});
    with_buffer.buffers.push_back(std::string("\x00\x01\x02", 3));
    const auto frame = kg::encode_ws(with_buffer, kg::ws_protocol::legacy);
    ws.binary(frame.kind == kg::ws_frame_kind::binary);
    ws.write(asio::buffer(frame.payload));
    boost::system::error_code ec;
    ws.read(buf, ec);
  });
  recorder rec;
  auto t = kg::make_gateway_transport(
      {.gateway = {.url = gw.url(), .token = ""}, .kernel_id = kernel_id, .liveness_interval = std::chrono::hours(1)});
  t->start(rec.handlers());
  kg::session_identity me;
  t->send(kg::make_message("kernel_info_request", nlohmann::json::object(), me, kg::channel::shell));
  REQUIRE(rec.wait([&] { return rec.messages.size() >= 2; }));
  {
    std::lock_guard lock(rec.m);
    CHECK(rec.messages[0].msg_type() == "kernel_info_reply");
    REQUIRE(rec.messages[1].buffers.size() == 1);
    CHECK(rec.messages[1].buffers[0] == std::string("\x00\x01\x02", 3));
  }
  for (auto chan : {kg::channel::iopub, kg::channel::heartbeat}) {
    try {
      t->send(kg::make_message("x", nlohmann::json::object(), me, chan));
      FAIL("should throw");
    } catch (const kg::error& e) {
      CHECK(e.condition() == kg::errc::invalid_argument);
    }
  }
}

TEST_CASE("a server that goes away: bounded reconnect attempts, then dead with a clear reason") {
  auto gw = std::make_unique<fake_gateway>(true, [&](ws_type& ws, int, const std::string&) {
    beast::flat_buffer buf;
    boost::system::error_code ec;
    ws.read(buf, ec);
  });
  recorder rec;
  auto t = kg::make_gateway_transport({.gateway = {.url = gw->url(), .token = "t", .connect_retries = 0},
                                       .kernel_id = kernel_id,
                                       .max_reconnect_attempts = 3,
                                       .first_reconnect_pause = 10ms,
                                       .liveness_interval = std::chrono::hours(1)});
  t->start(rec.handlers());
  gw->stop_accepting();
  kg::session_identity me;
  t->send(kg::make_message("kernel_info_request", nlohmann::json::object(), me, kg::channel::shell));
  gw.reset();  // closes the open connection: the script's read ends
  REQUIRE(rec.wait([&] { return rec.has_event(kg::peer_state::dead); }));
  std::lock_guard lock(rec.m);
  const auto& last = rec.events.back();
  CHECK(last.state == kg::peer_state::dead);
  CHECK(last.reason.find("3 attempts") != std::string::npos);
  CHECK(last.reason.find("/api/kernels/" + kernel_id + "/channels") != std::string::npos);
}

TEST_CASE("an upgrade answered 200 OK is asked again, within connect_retries") {
  const auto answer_kernel_info = [](ws_type& ws, int, const std::string&) {
    beast::flat_buffer buf;
    ws.read(buf);
    ws.binary(true);
    const auto request = kg::decode_ws_v1(beast::buffers_to_string(buf.data()));
    const auto reply = reply_to(request, "kernel_info_reply", kg::channel::shell, {{"status", "ok"}});
    ws.write(asio::buffer(kg::encode_ws_v1(reply)));
    boost::system::error_code ec;
    ws.read(buf, ec);  // until the client goes
  };
  {
    fake_gateway gw(true, answer_kernel_info, 2);
    recorder rec;
    auto t = kg::make_gateway_transport(
        {.gateway = {.url = gw.url(), .token = "t", .connect_retries = 2, .retry_backoff = 10ms},
         .kernel_id = kernel_id});
    t->start(rec.handlers());
    kg::session_identity me;
    t->send(kg::make_message("kernel_info_request", nlohmann::json::object(), me, kg::channel::shell));
    REQUIRE(rec.wait([&] { return !rec.messages.empty(); }));
    std::lock_guard lock(rec.m);
    CHECK(rec.messages.front().msg_type() == "kernel_info_reply");
  }
  // Once the retries are used up, the error says what the server answered.
  fake_gateway gw(true, answer_kernel_info, 3);
  try {
    (void)kg::make_gateway_transport(
        {.gateway = {.url = gw.url(), .token = "t", .connect_retries = 2, .retry_backoff = 10ms}, .kernel_id = kernel_id});
    FAIL("connected although every upgrade was answered 200 OK");
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::connection_failed);
    CHECK(e.http_status() == 200);
    CHECK(std::string(e.what()).find("instead of 101 Switching Protocols") != std::string::npos);
  }
}

TEST_CASE("bad transport options are refused before any connection") {
  for (auto id : {std::string(""), std::string("../x"), std::string("a b")}) {
    CHECK_THROWS_AS((void)kg::make_gateway_transport({.gateway = {.url = "http://127.0.0.1:1"}, .kernel_id = id}), kg::error);
  }
  CHECK_THROWS_AS((void)kg::make_gateway_transport(
                      {.gateway = {.url = "http://127.0.0.1:1"}, .kernel_id = kernel_id, .max_reconnect_attempts = -1}),
                  kg::error);
}
