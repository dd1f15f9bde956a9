#ifndef KERNELGATE_CLIENT_TRANSPORT_HPP
#define KERNELGATE_CLIENT_TRANSPORT_HPP

// The abstract channel transport a kernel_client runs over. Two implementations: ZeroMQ
// (src/transport/zmq, five sockets and a heartbeat) and WebSocket (a kernel gateway's
// /api/kernels/{id}/channels). The client never knows which one it has.

#include "kernelgate/error.hpp"
#include "kernelgate/wire/message.hpp"

#include <functional>
#include <string>

namespace kernelgate {

/// What happened to the peer (the kernel, or the gateway connection to it).
enum class peer_state {
  dead,          ///< the kernel is gone (process exited, heartbeat lost, kernel deleted); pending requests cannot finish
  restarting,    ///< the kernel was restarted under us (e.g. a gateway's auto-restart); pending requests cannot finish
  reconnecting,  ///< the connection broke and is being restored; pending requests may still finish
  reconnected,   ///< the connection (or the heartbeat after a `dead`) is back
};

[[nodiscard]] const char* to_string(peer_state s) noexcept;

/// A liveness event with a human-readable reason ("kernel process exited with status 137",
/// "no heartbeat for 3 s", "WebSocket closed: 1006").
struct peer_event {
  peer_state state = peer_state::dead;
  std::string reason;
};

/// The callbacks a transport delivers to. All three run on the transport's I/O thread, one at a
/// time, in arrival order. They must not block for long, must not call close() on the transport
/// nor destroy it, and must not throw (a transport catches and drops what they throw).
struct transport_handlers {
  /// A verified, decoded message from the kernel (shell, control, iopub or stdin; chan is set).
  std::function<void(message)> on_message;
  /// A frame that was dropped: forged (errc::signature_mismatch, errc::unsigned_message), replayed
  /// (errc::replayed_message) or malformed (errc::malformed_message). It was never processed.
  std::function<void(const error&)> on_dropped;
  /// A liveness change of the peer.
  std::function<void(const peer_event&)> on_peer;
};

/// A bidirectional, signed-or-proxied message pipe to one kernel.
///
/// Lifecycle: construct (through a factory), start(handlers) once, send() any number of times,
/// close() (idempotent; the destructor closes too). Nothing is delivered before start().
///
/// Copy/move: neither (it owns a thread and sockets); hold it through std::unique_ptr.
/// Thread safety: send() may be called from any thread concurrently; messages of one channel go out
/// in the order of the send() calls that returned. close() may be called from any thread except the
/// transport's own I/O thread (i.e. not from a handler).
class channel_transport {
 public:
  channel_transport() = default;
  channel_transport(const channel_transport&) = delete;
  channel_transport& operator=(const channel_transport&) = delete;
  channel_transport(channel_transport&&) = delete;
  channel_transport& operator=(channel_transport&&) = delete;
  /// Implementations close (and join) in their own destructor.
  virtual ~channel_transport() = default;

  /// Installs the handlers and starts delivering. Call once.
  /// @throws kernelgate::error(errc::invalid_argument) when called twice;
  ///         errc::not_connected when the transport is already closed.
  void start(transport_handlers handlers) { start_impl(std::move(handlers)); }

  /// Queues `msg` for its channel (msg.chan: shell, control or input); signing and framing happen
  /// in the transport. Returns once the message is queued, not when it is on the wire.
  /// @throws kernelgate::error(errc::not_connected) after close();
  ///         errc::invalid_argument for channel::iopub / channel::heartbeat.
  void send(message msg) { send_impl(std::move(msg)); }

  /// Stops the I/O thread, joins it and releases every socket. Idempotent; never throws.
  /// No handler runs after close() returns.
  void close() noexcept { close_impl(); }

  /// Whether start() was called and close() was not.
  [[nodiscard]] bool is_open() const noexcept { return is_open_impl(); }

  /// A short description for error messages ("zmq tcp://127.0.0.1:53011", "ws://host/api/kernels/ID");
  /// never contains keys or tokens.
  [[nodiscard]] std::string describe() const { return describe_impl(); }

 private:
  virtual void start_impl(transport_handlers handlers) = 0;
  virtual void send_impl(message msg) = 0;
  virtual void close_impl() noexcept = 0;
  virtual bool is_open_impl() const noexcept = 0;
  virtual std::string describe_impl() const = 0;
};

}  // namespace kernelgate

#endif
