#ifndef KERNELGATE_ERROR_HPP
#define KERNELGATE_ERROR_HPP

#include <memory>
#include <string>
#include <system_error>

namespace kernelgate {

/// Error conditions reported by kernelgate. Values are stable; new ones are only appended.
enum class errc {
  signature_mismatch = 1,  ///< an incoming message's HMAC does not match its frames
  replayed_message,        ///< a signature already seen on this connection
  unsigned_message,        ///< a message without a signature where a key is set
  malformed_message,       ///< frames, JSON or WebSocket payload that is not a valid message
  unsupported_scheme,      ///< a signature_scheme this build cannot compute
  invalid_argument,        ///< a caller-supplied value is out of range or inconsistent
  io_error,                ///< reading or writing a file failed
  bad_connection_file,     ///< a connection file that is missing, unreadable or invalid
  no_such_kernel,          ///< no kernelspec (or gateway kernel) with that name or id
  bad_kernelspec,          ///< a kernel.json that cannot be used
  launch_failed,           ///< a process (kernel, interpreter) could not start or died during start-up
  kernel_died,             ///< the kernel process or its heartbeat stopped while we waited
  timeout,                 ///< a deadline passed
  cancelled,               ///< the caller asked to stop
  not_connected,           ///< an operation on a closed or stopped session
  protocol_error,          ///< the peer answered with something the protocol does not allow
  http_status,             ///< an HTTP request got a non-success status (see error::http_status())
  connection_failed,       ///< a TCP, TLS or Unix-socket connection could not be made or broke
  websocket_closed,        ///< the WebSocket closed and could not be restored
  tls_error,               ///< certificate or handshake verification failed
  docker_api,              ///< the Docker Engine answered with an error
  docker_unavailable,      ///< no Docker Engine at the configured socket
  no_executor_available,   ///< every backend of a fallback chain failed to start
  malformed_notebook,      ///< a notebook file that is not valid nbformat 4 JSON
  cell_error,              ///< a notebook cell raised where errors were not allowed
};

/// The std::error_category of kernelgate::errc ("kernelgate").
[[nodiscard]] const std::error_category& error_category() noexcept;

[[nodiscard]] std::error_code make_error_code(errc e) noexcept;

/// The one exception type kernelgate throws. The message says what failed, with which input, and
/// what to do about it; it never contains secrets (keys, tokens).
class error : public std::system_error {
 public:
  error(errc code, const std::string& message);
  /// An HTTP failure: the status travels with the error.
  error(errc code, int http_status, const std::string& message);

  /// The kernelgate condition.
  [[nodiscard]] errc condition() const noexcept { return static_cast<errc>(code().value()); }
  /// The HTTP status of the answer behind the error: for errc::http_status, and for
  /// errc::connection_failed when a WebSocket upgrade was answered with a success status but not
  /// taken up; 0 otherwise.
  [[nodiscard]] int http_status() const noexcept { return http_status_; }
  /// The message as given, without the ": <condition>" suffix std::system_error would add
  /// (to_string(condition()) names the condition).
  [[nodiscard]] const char* what() const noexcept override { return message_->c_str(); }

 private:
  std::shared_ptr<const std::string> message_;  // shared: copying an exception must not throw
  int http_status_ = 0;
};

/// A readable name for an error code, such as "kernel_died".
[[nodiscard]] const char* to_string(errc e) noexcept;

}  // namespace kernelgate

template <>
struct std::is_error_code_enum<kernelgate::errc> : std::true_type {};

#endif
