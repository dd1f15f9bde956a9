#ifndef KERNELGATE_SRC_TRANSPORT_WS_WS_CONNECTION_HPP
#define KERNELGATE_SRC_TRANSPORT_WS_WS_CONNECTION_HPP

// One WebSocket to a gateway endpoint (ws:// or wss://), kept alive: it answers pings, sends its
// own when the line is quiet, notices a broken connection at once, and reconnects to the same URL
// (same session_id, so the server replays what it buffered) with doubling pauses up to a bound.
// Frames are opaque here; the transport above encodes and decodes Jupyter messages.

#include "gateway/endpoint.hpp"
#include "kernelgate/error.hpp"
#include "kernelgate/wire/ws_codec.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace kernelgate::detail {

/// How hard a dropped connection is restored.
struct reconnect_policy {
  int max_attempts = 5;                            ///< consecutive failed attempts before giving up
  std::chrono::milliseconds first_pause{100};      ///< doubles after each failed attempt
  std::chrono::milliseconds max_pause{2'000};
  std::chrono::milliseconds idle_timeout{30'000};  ///< no traffic for this long (pings unanswered): dropped
  /// A REST path (e.g. /api/kernels/ID) checked every probe_interval while the link is up; a 404
  /// or a `dead` model fails the link. Empty: no probing.
  std::string probe_target;
  std::chrono::milliseconds probe_interval{2'000};
};

/// What happened to the connection.
enum class ws_link_state {
  dropped,      ///< broke; reconnecting
  restored,     ///< reconnected after a drop
  failed,       ///< gave up (attempts exhausted, or the endpoint is gone: 404/403); no more frames
};

struct ws_connection_handlers {
  /// A received frame. On the I/O thread.
  std::function<void(ws_frame_kind, std::string_view)> on_frame;
  /// A state change with a reason (and the error for `failed`). On the I/O thread.
  std::function<void(ws_link_state, const error&)> on_state;
};

/// Copy/move: neither (owns the I/O thread and the socket).
/// Thread safety: send() from any thread; close() from any thread but the I/O thread.
class ws_connection {
 public:
  /// Connects (TCP, TLS, upgrade offering `subprotocols`) within the endpoint's deadlines and
  /// starts the I/O thread. Nothing is delivered until start().
  /// @throws error: connection_failed, timeout, tls_error, http_status (the upgrade was refused,
  ///         e.g. 404 for an unknown kernel, 403 for a bad token).
  ws_connection(endpoint ep, std::string target, std::vector<std::string> subprotocols, reconnect_policy policy);
  ws_connection(const ws_connection&) = delete;
  ws_connection& operator=(const ws_connection&) = delete;
  ~ws_connection();

  /// The subprotocol the server chose ("" when none).
  [[nodiscard]] const std::string& subprotocol() const noexcept;
  /// Starts delivering frames and state changes.
  void start(ws_connection_handlers handlers);
  /// Queues a frame; frames queued while the link is down go out after it is restored, in order.
  /// @throws error(errc::not_connected) after close() or after the link failed.
  void send(ws_frame frame);
  /// Closes the socket, stops and joins the I/O thread. Idempotent; no handler runs afterwards.
  void close() noexcept;
  /// scheme://host:port/target without the query string, for messages.
  [[nodiscard]] std::string describe() const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace kernelgate::detail

#endif
