#ifndef KERNELGATE_GATEWAY_GATEWAY_SESSION_HPP
#define KERNELGATE_GATEWAY_GATEWAY_SESSION_HPP

// A stateful session with one kernel behind a Jupyter kernel gateway or jupyter-server: the same
// contract as kernel_session (execute with timeout → interrupt → restart, interrupt, restart,
// shutdown), over REST for the kernel's life and the WebSocket transport for its channels.

#include "kernelgate/client/kernel_client.hpp"
#include "kernelgate/gateway/gateway_client.hpp"
#include "kernelgate/gateway/gateway_transport.hpp"
#include "kernelgate/kernel/kernel_session.hpp"

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace kernelgate {

/// How to start (or attach to) a gateway kernel.
struct gateway_session_options {
  gateway_options gateway;
  /// The kernelspec to start on the gateway (empty: the gateway's default).
  std::string kernel = "python3";
  /// Attach to this running kernel instead of starting one; it is never deleted by the session.
  std::string kernel_id;
  /// The kernel's working directory, relative to the server's root (empty: the root).
  std::string path;
  /// Environment for the kernel (honoured by Kernel/Enterprise Gateway; jupyter-server 1.23 ignores it).
  std::map<std::string, std::string> env;
  /// Where rich outputs (images, HTML...) are saved on this machine; unset: they are not saved.
  std::optional<std::filesystem::path> output_dir;
  /// How long the kernel may take to start and answer kernel_info.
  std::chrono::milliseconds startup_timeout{60'000};
  /// WebSocket framing, reconnects and liveness checks (gateway, kernel_id, session_id are set here).
  gateway_transport_options transport;
  /// Dropped frames, throwing handlers: see kernel_client_options::on_error.
  std::function<void(const error&)> on_error;
};

/// One gateway kernel, owned (started here, deleted by shutdown()) or attached.
///
/// Move-only. Thread safety: execute/complete/... may run from several threads at once; interrupt()
/// from any thread; restart() and shutdown() must not race with each other or the destructor.
/// The destructor shuts an owned kernel down (DELETE) and never throws.
class gateway_session {
 public:
  /// Starts (or attaches to) the kernel, opens its channels and waits until it is ready.
  /// @throws kernelgate::error: http_status (bad token 401/403, unknown kernel or spec 404, server
  ///         errors), connection_failed, tls_error, timeout (not ready within startup_timeout).
  [[nodiscard]] static gateway_session start(gateway_session_options options);

  gateway_session(gateway_session&&) noexcept;
  gateway_session& operator=(gateway_session&&) noexcept;
  gateway_session(const gateway_session&) = delete;
  gateway_session& operator=(const gateway_session&) = delete;
  ~gateway_session();

  /// Runs code with kernel_session's semantics (see kernel_session::execute).
  /// @throws kernelgate::error(errc::kernel_died) when the kernel or the gateway goes away during the
  ///         call; errc::not_connected after shutdown().
  run_result execute(const std::string& code, const run_options& options = {});

  /// `POST /api/kernels/{id}/interrupt`.
  void interrupt();
  /// `POST /api/kernels/{id}/restart`, then fresh channels: the namespace is empty afterwards.
  /// @throws kernelgate::error(errc::invalid_argument) for an attached kernel; REST errors.
  void restart();
  /// Closes the channels and deletes an owned kernel (errors are swallowed: the kernel may be gone
  /// already). Idempotent; never throws.
  void shutdown() noexcept;

  /// The client, for completion, inspection, history and the rest.
  [[nodiscard]] kernel_client& client();
  /// The REST client of this session's gateway.
  [[nodiscard]] const gateway_client& rest() const;
  [[nodiscard]] const kernel_info_reply& info() const;
  [[nodiscard]] const std::string& kernel_name() const;
  [[nodiscard]] const std::string& kernel_id() const;
  [[nodiscard]] bool owned() const;
  [[nodiscard]] bool alive() const;

 private:
  struct impl;
  explicit gateway_session(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace kernelgate

#endif
