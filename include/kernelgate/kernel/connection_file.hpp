#ifndef KERNELGATE_KERNEL_CONNECTION_FILE_HPP
#define KERNELGATE_KERNEL_CONNECTION_FILE_HPP

// Jupyter connection files: where a kernel's five sockets listen and the key that signs messages.

#include "kernelgate/wire/message.hpp"

#include <filesystem>
#include <string>

namespace kernelgate {

/// The contents of a connection file. `key` is a secret: never log or print it.
struct connection_info {
  std::string transport = "tcp";  ///< "tcp" or "ipc"
  std::string ip = "127.0.0.1";   ///< for ipc: the path prefix of the socket files
  int shell_port = 0, iopub_port = 0, stdin_port = 0, control_port = 0, hb_port = 0;
  std::string key;                            ///< empty: messages are not signed
  std::string signature_scheme = "hmac-sha256";
  std::string kernel_name;                    ///< optional

  /// The ZeroMQ endpoint of a channel: tcp://IP:PORT or ipc://IP-PORT.
  [[nodiscard]] std::string endpoint(channel c) const;
  /// Describes where the kernel listens, without the key (for error messages).
  [[nodiscard]] std::string describe() const;
};

/// A connection_info for a kernel to be started on loopback: five free TCP ports (bound and released
/// just now; see kernel_manager for how a lost race is retried) and a fresh random 256-bit key.
/// @throws kernelgate::error(errc::io_error) when no port can be bound.
[[nodiscard]] connection_info make_local_connection_info(std::string kernel_name = {});

/// Reads a connection file. Required: the five ports and ip; key, transport and signature_scheme
/// default as in jupyter_client.
/// @throws kernelgate::error(errc::bad_connection_file) naming the file and what is wrong.
[[nodiscard]] connection_info read_connection_file(const std::filesystem::path& file);

/// Writes `info` to `file` with mode 0600, atomically (a temporary file renamed into place).
/// @throws kernelgate::error(errc::io_error) naming the file.
void write_connection_file(const std::filesystem::path& file, const connection_info& info);

/// Jupyter's runtime directory (JUPYTER_RUNTIME_DIR, else $XDG_RUNTIME_DIR/jupyter, else the user data
/// dir's runtime/), created with mode 0700 if missing.
/// @throws kernelgate::error(errc::io_error) when it cannot be created.
[[nodiscard]] std::filesystem::path jupyter_runtime_dir();

}  // namespace kernelgate

#endif
