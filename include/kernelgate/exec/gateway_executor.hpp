#ifndef KERNELGATE_EXEC_GATEWAY_EXECUTOR_HPP
#define KERNELGATE_EXEC_GATEWAY_EXECUTOR_HPP

#include "kernelgate/exec/code_executor.hpp"
#include "kernelgate/gateway/gateway_client.hpp"
#include "kernelgate/gateway/gateway_transport.hpp"

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace kernelgate {

/// Options of make_gateway_executor().
struct gateway_executor_options {
  /// The gateway: URL, token (or KERNELGATE_GATEWAY_TOKEN), CA file, TLS verification, headers.
  gateway_options gateway;
  /// The kernelspec to start on the gateway (ignored when kernel_id is set).
  std::string kernel = "python3";
  /// Attach to this running gateway kernel instead of starting one: stop() leaves it running and
  /// the executor cannot restart it.
  std::string kernel_id;
  /// The kernel's working directory relative to the server's root (empty: the root).
  std::string path;
  /// Environment for the kernel (Kernel/Enterprise Gateway honour it; jupyter-server 1.23 does not).
  std::map<std::string, std::string> env;
  /// Where rich outputs (images, HTML, JSON...) are saved on this machine. Empty: a new temporary
  /// directory, removed by stop().
  std::filesystem::path output_dir;
  /// Deadline of each block; execute_options::timeout overrides it.
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
  /// How long the kernel may take to start and become ready.
  std::chrono::milliseconds startup_timeout = std::chrono::seconds(60);
  /// How long an interrupted block may take to stop before the kernel is restarted.
  std::chrono::milliseconds interrupt_grace = std::chrono::seconds(5);
  /// The most output text a call keeps; the rest is dropped and a line says how much.
  std::size_t max_output_bytes = std::size_t{1} << 20;
  /// WebSocket framing, reconnects and liveness checks.
  gateway_transport_options transport;
};

/// An executor over one kernel behind a Jupyter kernel gateway or jupyter-server, with exactly the
/// behaviour of make_kernel_executor (see there): state across blocks and calls, %%bash for shell
/// blocks, exit 1 for other languages, timeout → REST interrupt → 124 (state kept, or restart and a
/// line saying it was lost), 130 on the stop token, kernel death → exit 1 and a fresh kernel on the
/// next execute. The kernel is created on the gateway when the executor starts and deleted by
/// stop(); an attached kernel (kernel_id) is neither restarted nor deleted.
/// @throws kernelgate::error from the factory: http_status (401/403 bad token, 404 unknown kernel
///   id or spec), connection_failed, tls_error, timeout, invalid_argument.
[[nodiscard]] std::unique_ptr<code_executor> make_gateway_executor(gateway_executor_options options);

}  // namespace kernelgate

#endif
