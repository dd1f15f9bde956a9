#ifndef KERNELGATE_GATEWAY_GATEWAY_TRANSPORT_HPP
#define KERNELGATE_GATEWAY_GATEWAY_TRANSPORT_HPP

#include "kernelgate/client/transport.hpp"
#include "kernelgate/gateway/gateway_client.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace kernelgate {

/// Which WebSocket framing to ask the gateway for.
enum class gateway_ws_protocol {
  prefer_v1,    ///< offer v1.kernel.websocket.jupyter.org; use the legacy JSON framing if the server declines
  legacy_only,  ///< offer nothing: the legacy JSON framing
};

/// How to reach one gateway kernel's channels.
struct gateway_transport_options {
  gateway_options gateway;
  std::string kernel_id;
  /// The WebSocket session_id; the server buffers output for it while the connection is down and
  /// replays it on reconnect. Empty: a fresh one.
  std::string session_id;
  gateway_ws_protocol protocol = gateway_ws_protocol::prefer_v1;
  /// Consecutive failed reconnect attempts before the kernel is reported dead.
  int max_reconnect_attempts = 5;
  /// The first pause between reconnect attempts; it doubles up to max_reconnect_pause.
  std::chrono::milliseconds first_reconnect_pause{100};
  std::chrono::milliseconds max_reconnect_pause{2'000};
  /// A connection with no traffic for this long (pings sent at half of it, unanswered) is dropped.
  std::chrono::milliseconds idle_timeout{30'000};
  /// How often the kernel's REST model is checked while connected: a server may keep the WebSocket
  /// open after the kernel was deleted or culled, and this turns that into peer_state::dead.
  std::chrono::milliseconds liveness_interval{2'000};
};

/// A channel_transport over `/api/kernels/{id}/channels` of a kernel gateway or jupyter-server.
///
/// Connects at once (TCP, TLS, upgrade with the token). A dropped connection becomes
/// peer_state::reconnecting, is restored with the same session_id (peer_state::reconnected, and the
/// server replays what it buffered; frames sent meanwhile go out after it), and after
/// max_reconnect_attempts failures, or when the kernel is gone (404), peer_state::dead.
/// The server's own `status: restarting` / `status: dead` become peer_state::restarting / dead.
/// Malformed frames are reported through on_dropped and skipped.
/// @throws kernelgate::error: invalid_argument (options), connection_failed, timeout, tls_error,
///         http_status (404: no such kernel; 403: bad token).
[[nodiscard]] std::unique_ptr<channel_transport> make_gateway_transport(const gateway_transport_options& options);

}  // namespace kernelgate

#endif
