#include "kernelgate/gateway/gateway_transport.hpp"

#include "gateway/endpoint.hpp"
#include "kernelgate/wire/ws_codec.hpp"
#include "transport/ws/ws_connection.hpp"

#include <atomic>
#include <mutex>

namespace kernelgate {
namespace {

class ws_transport final : public channel_transport {
 public:
  ws_transport(const gateway_transport_options& options, detail::endpoint ep, std::string target, std::string probe)
      : description_(ep.url.display() + target.substr(0, target.find('?'))),
        connection_(std::move(ep), std::move(target),
                    options.protocol == gateway_ws_protocol::prefer_v1
                        ? std::vector<std::string>{std::string(ws_v1_subprotocol)}
                        : std::vector<std::string>{},
                    detail::reconnect_policy{options.max_reconnect_attempts, options.first_reconnect_pause,
                                             options.max_reconnect_pause, options.idle_timeout,
                                             std::move(probe), options.liveness_interval}),
        protocol_(connection_.subprotocol() == ws_v1_subprotocol ? ws_protocol::v1 : ws_protocol::legacy) {}

  ~ws_transport() override { close_impl(); }

 private:
  void start_impl(transport_handlers handlers) override {
    {
      std::lock_guard lock(mutex_);
      if (closed_) throw error(errc::not_connected, "the gateway transport " + description_ + " is closed");
      if (started_) throw error(errc::invalid_argument, "the gateway transport " + description_ + " was already started");
      started_ = true;
    }
    handlers_ = std::move(handlers);
    connection_.start({
        .on_frame = [this](ws_frame_kind kind, std::string_view payload) { on_frame(kind, payload); },
        .on_state = [this](detail::ws_link_state state, const error& why) { on_state(state, why); },
    });
  }

  void on_frame(ws_frame_kind kind, std::string_view payload) {
    message msg;
    try {
      msg = decode_ws(kind, payload, protocol_);
    } catch (const error& e) {
      if (handlers_.on_dropped) handlers_.on_dropped(e);
      return;
    }
    // jupyter-server injects these itself when it restarts the kernel or gives up on it.
    std::optional<peer_event> event;
    if (msg.chan == channel::iopub && msg.msg_type() == "status") {
      const auto state = msg.content.value("execution_state", std::string());
      if (state == "restarting") event = peer_event{peer_state::restarting, "the gateway restarted the kernel"};
      if (state == "dead") event = peer_event{peer_state::dead, "the gateway reports the kernel dead"};
    }
    if (handlers_.on_message) handlers_.on_message(std::move(msg));
    if (event && handlers_.on_peer) handlers_.on_peer(*event);
  }

  void on_state(detail::ws_link_state state, const error& why) {
    if (!handlers_.on_peer) return;
    switch (state) {
      case detail::ws_link_state::dropped: handlers_.on_peer({peer_state::reconnecting, why.what()}); break;
      case detail::ws_link_state::restored: handlers_.on_peer({peer_state::reconnected, why.what()}); break;
      case detail::ws_link_state::failed: handlers_.on_peer({peer_state::dead, why.what()}); break;
    }
  }

  void send_impl(message msg) override {
    if (msg.chan == channel::iopub || msg.chan == channel::heartbeat) {
      throw error(errc::invalid_argument, std::string("cannot send on the ") + std::string(to_string(msg.chan)) +
                                              " channel; requests go on shell, control or stdin");
    }
    {
      std::lock_guard lock(mutex_);
      if (closed_) throw error(errc::not_connected, "the gateway transport " + description_ + " is closed");
    }
    connection_.send(encode_ws(msg, protocol_));
  }

  void close_impl() noexcept override {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    connection_.close();
  }

  bool is_open_impl() const noexcept override {
    std::lock_guard lock(mutex_);
    return started_ && !closed_;
  }

  std::string describe_impl() const override { return description_; }

  std::string description_;
  detail::ws_connection connection_;
  ws_protocol protocol_;
  transport_handlers handlers_;  // written before the connection delivers, read on its I/O thread
  mutable std::mutex mutex_;
  bool started_ = false;
  bool closed_ = false;
};

}  // namespace

std::unique_ptr<channel_transport> make_gateway_transport(const gateway_transport_options& options) {
  detail::check_kernel_id(options.kernel_id);
  if (options.max_reconnect_attempts < 0 || options.first_reconnect_pause.count() < 0 ||
      options.max_reconnect_pause < options.first_reconnect_pause || options.idle_timeout.count() <= 0 ||
      options.liveness_interval.count() <= 0) {
    throw error(errc::invalid_argument,
                "gateway transport: max_reconnect_attempts must not be negative, max_reconnect_pause must not be "
                "below first_reconnect_pause, and idle_timeout and liveness_interval must be positive");
  }
  std::string session = options.session_id.empty() ? session_identity::new_session_id() : options.session_id;
  detail::check_kernel_id(session);  // it goes into the query string: the same character rules apply
  auto ep = detail::make_endpoint(options.gateway);
  auto kernel = ep.url.prefix + "/api/kernels/" + options.kernel_id;
  auto target = kernel + "/channels?session_id=" + session;
  return std::make_unique<ws_transport>(options, std::move(ep), std::move(target), std::move(kernel));
}

}  // namespace kernelgate
