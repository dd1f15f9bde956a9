// The ZeroMQ transport and kernel_client against an in-process fake kernel built with the wire codec:
// forged, replayed, unsigned and malformed messages are dropped and reported, never processed; a
// silent heartbeat becomes kernel_died.

#include "kernelgate/client/kernel_client.hpp"
#include "kernelgate/kernel/kernel_session.hpp"
#include "kernelgate/wire/zmq_codec.hpp"
#include "support.hpp"
#include "transport/zmq/zmq_transport.hpp"

#include <doctest/doctest.h>
#include <zmq.hpp>

#include <future>
#include <mutex>

using namespace std::chrono_literals;
namespace kg = kernelgate;

namespace {

int port_of(zmq::socket_t& s) {
  const std::string ep = s.get(zmq::sockopt::last_endpoint);
  return std::stoi(ep.substr(ep.rfind(':') + 1));
}

// The kernel side: ROUTER shell/control/stdin, PUB iopub, REP heartbeat, all bound on loopback.
struct fake_kernel {
  zmq::context_t ctx{1};
  zmq::socket_t shell{ctx, zmq::socket_type::router}, control{ctx, zmq::socket_type::router},
      stdin_{ctx, zmq::socket_type::router}, iopub{ctx, zmq::socket_type::pub}, hb{ctx, zmq::socket_type::rep};
  kg::connection_info info;
  kg::signer sign;
  kg::session_identity who;

  fake_kernel() {
    for (auto* s : {&shell, &control, &stdin_, &iopub, &hb}) {
      s->set(zmq::sockopt::linger, 0);
      s->bind("tcp://127.0.0.1:*");
    }
    info.shell_port = port_of(shell);
    info.control_port = port_of(control);
    info.stdin_port = port_of(stdin_);
    info.iopub_port = port_of(iopub);
    info.hb_port = port_of(hb);
    info.key = kg::random_hex_id();
    sign = kg::signer(info.key);
  }

  // Receives one request on shell: routing identity + decoded message.
  std::pair<std::string, kg::message> receive_shell() {
    zmq::pollitem_t item{shell.handle(), 0, ZMQ_POLLIN, 0};
    REQUIRE(zmq::poll(&item, 1, std::chrono::milliseconds(10000)) == 1);
    std::vector<zmq::message_t> parts;
    for (;;) {
      zmq::message_t p;
      REQUIRE(shell.recv(p));
      const bool more = p.more();
      parts.push_back(std::move(p));
      if (!more) break;
    }
    std::vector<std::string> frames;
    for (auto& p : parts) frames.push_back(p.to_string());
    auto d = kg::decode_zmq(std::span<const std::string>(frames), sign, kg::channel::shell);
    REQUIRE(!d.identities.empty());
    return {d.identities.front(), d.msg};
  }

  void send_frames(zmq::socket_t& s, const std::vector<std::string>& frames) {
    for (std::size_t i = 0; i < frames.size(); ++i)
      REQUIRE(s.send(zmq::buffer(frames[i]), i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none));
  }

  std::vector<std::string> reply_frames(const std::string& identity, const kg::message& req, const std::string& marker,
                                        const kg::signer& with) {
    const auto reply = kg::make_message("kernel_info_reply", {{"status", "ok"}, {"implementation", marker}}, who,
                                        kg::channel::shell, &req);
    const std::vector<std::string> ids{identity};
    return kg::encode_zmq(reply, with, ids);
  }
};

struct recorder {
  std::mutex m;
  std::vector<kg::errc> codes;
  void add(const kg::error& e) {
    std::lock_guard lk(m);
    codes.push_back(e.condition());
  }
  std::vector<kg::errc> get() {
    std::lock_guard lk(m);
    return codes;
  }
};

kg::kernel_client make_client(const fake_kernel& k, recorder& rec, bool heartbeat,
                              std::chrono::milliseconds interval = 1000ms) {
  kg::kernel_client_options o;
  o.on_error = [&rec](const kg::error& e) { rec.add(e); };
  kg::detail::zmq_transport_options to;
  to.connection = k.info;
  to.identity = o.identity.session;
  to.heartbeat = heartbeat;
  to.heartbeat_interval = interval;
  return kg::kernel_client(kg::detail::zmq_transport::make(to), std::move(o));
}

}  // namespace

TEST_CASE("forged, unsigned, malformed and replayed replies are dropped and reported; the real one wins") {
  fake_kernel k;
  recorder rec;
  auto client = make_client(k, rec, false);
  auto fut = std::async(std::launch::async, [&] { return client.kernel_info(30s); });
  auto [id, req] = k.receive_shell();
  CHECK(req.msg_type() == "kernel_info_request");

  k.send_frames(k.shell, k.reply_frames(id, req, "forged", kg::signer(std::string(64, 'f'))));  // wrong key
  k.send_frames(k.shell, k.reply_frames(id, req, "unsigned", kg::signer()));                    // no signature
  k.send_frames(k.shell, {id, "<IDS|MSG>", "deadbeef", "{not json"});                           // malformed
  const auto real = k.reply_frames(id, req, "real", k.sign);
  k.send_frames(k.shell, real);
  const auto info = fut.get();
  CHECK(info.implementation == "real");

  // The same signed frames again: a replay, dropped even though the signature is valid.
  k.send_frames(k.shell, real);
  // A follow-up request proves the transport survived all of it, and orders the error reports.
  auto fut2 = std::async(std::launch::async, [&] { return client.kernel_info(30s); });
  auto [id2, req2] = k.receive_shell();
  k.send_frames(k.shell, k.reply_frames(id2, req2, "second", k.sign));
  CHECK(fut2.get().implementation == "second");

  const auto codes = rec.get();
  REQUIRE(codes.size() == 4);
  CHECK(codes[0] == kg::errc::signature_mismatch);
  CHECK(codes[1] == kg::errc::unsigned_message);
  CHECK(codes[2] == kg::errc::malformed_message);
  CHECK(codes[3] == kg::errc::replayed_message);
}

TEST_CASE("requests are signed with the connection key and carry the session identity") {
  fake_kernel k;
  recorder rec;
  auto client = make_client(k, rec, false);
  auto fut = std::async(std::launch::async, [&] { return client.complete("pri", 3, 30s); });
  auto [id, req] = k.receive_shell();  // decode_zmq verified the signature with the key
  CHECK(id == client.identity().session);
  CHECK(req.header.at("session") == client.identity().session);
  CHECK(req.content.at("code") == "pri");
  const auto reply = kg::make_message("complete_reply",
                                      {{"status", "ok"}, {"matches", {"print"}}, {"cursor_start", 0}, {"cursor_end", 3}},
                                      k.who, kg::channel::shell, &req);
  const std::vector<std::string> ids{id};
  k.send_frames(k.shell, kg::encode_zmq(reply, k.sign, ids));
  const auto r = fut.get();
  CHECK(r.matches == std::vector<std::string>{"print"});
}

TEST_CASE("a heartbeat that stops answering fails pending requests with kernel_died") {
  fake_kernel k;
  recorder rec;
  // Answer pings until told to stop.
  std::atomic<bool> answer{true};
  std::atomic<int> pongs{0};
  std::promise<void> beating;
  std::thread hb([&] {
    while (answer) {
      zmq::pollitem_t item{k.hb.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, std::chrono::milliseconds(50)) != 1) continue;
      zmq::message_t ping;
      if (!k.hb.recv(ping)) continue;
      if (!answer) break;
      (void)k.hb.send(ping, zmq::send_flags::none);
      if (++pongs == 2) beating.set_value();
    }
  });
  auto client = make_client(k, rec, true, 200ms);
  auto pending = client.execute_async({.code = "while True: pass"});
  // Once the heartbeat has been seen, silence it: the client must give up on its own.
  REQUIRE(beating.get_future().wait_for(60s) == std::future_status::ready);
  answer = false;
  hb.join();
  try {
    (void)pending.wait(60s);
    FAIL("wait should throw kernel_died");
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::kernel_died);
    CHECK(std::string(e.what()).find("heartbeat") != std::string::npos);
  }
  CHECK_FALSE(client.alive());
}

TEST_CASE("send after close fails with not_connected; close is idempotent") {
  fake_kernel k;
  recorder rec;
  auto client = make_client(k, rec, false);
  client.close();
  client.close();
  CHECK_THROWS_AS((void)client.execute_async({.code = "1"}), kg::error);
}

TEST_CASE("attaching to a connection file whose kernel is gone fails clearly instead of hanging") {
  kgtest::temp_dir dir;
  auto info = kg::make_local_connection_info("python3");  // free ports: nothing listens there
  const auto file = dir.path() / "kernel-gone.json";
  kg::write_connection_file(file, info);
  try {
    (void)kg::kernel_session::attach({.connection_file = file, .output_dir = dir.path(), .ready_timeout = 60s,
                                      .heartbeat_interval = 200ms});
    FAIL("attach should throw");
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::kernel_died);
    const std::string msg = e.what();
    CHECK(msg.find(file.string()) != std::string::npos);
    CHECK(msg.find("heartbeat") != std::string::npos);
    CHECK(msg.find(info.key) == std::string::npos);
  }
}
