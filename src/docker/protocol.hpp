#ifndef KERNELGATE_SRC_DOCKER_PROTOCOL_HPP
#define KERNELGATE_SRC_DOCKER_PROTOCOL_HPP

// The parts of the Docker Engine API that need no socket: where the daemon is, which API version
// to speak, how exec output is framed, and how query strings are spelled. Kept free of Beast so
// unit tests can use it directly.

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kernelgate::docker::detail {

/// The socket a DOCKER_HOST value names. Only unix:// is supported (no TCP/TLS daemons).
/// @throws kernelgate::error(errc::invalid_argument) for any other scheme or an empty path.
[[nodiscard]] std::string socket_path_from_host(std::string_view docker_host);

/// The host value to use: the explicit one, else $DOCKER_HOST, else unix:///var/run/docker.sock.
[[nodiscard]] std::string resolve_host(std::string_view explicit_host);

/// The newest API version this client knows the meaning of, and the oldest it can work with
/// (exec WorkingDir needs 1.35).
inline constexpr std::string_view client_max_api = "1.45";
inline constexpr std::string_view client_min_api = "1.35";

/// "1.41" -> {1, 41}; nullopt when it is not two dot-separated numbers.
[[nodiscard]] std::optional<std::pair<int, int>> parse_api_version(std::string_view v);

/// Picks the version to speak from a GET /version body: min(client max, ApiVersion), raised to
/// MinAPIVersion when the daemon refuses older ones.
/// @throws kernelgate::error(errc::docker_api) when the body lacks ApiVersion or the result is
/// older than client_min_api.
[[nodiscard]] std::string negotiate_api_version(const nlohmann::json& version_body);

/// Stream numbers of the multiplexed exec/attach stream (Tty=false).
enum class stream_id : std::uint8_t { stdin_stream = 0, stdout_stream = 1, stderr_stream = 2, system_error = 3 };

/// Splits Docker's multiplexed stream (8-byte headers: type, 3 zero bytes, big-endian length)
/// into frames, whatever way the bytes are chunked. Payloads are passed on as they arrive, so a
/// large frame is delivered in pieces without being buffered whole.
class frame_demuxer {
 public:
  using sink = std::function<void(stream_id, std::string_view)>;
  explicit frame_demuxer(sink on_data) : on_data_(std::move(on_data)) {}

  /// Consumes bytes. @throws kernelgate::error(errc::protocol_error) on a header whose stream type
  /// is unknown or whose padding bytes are not zero (a Tty stream or garbage).
  void feed(std::string_view bytes);
  /// True when the stream stopped inside a header or a payload.
  [[nodiscard]] bool mid_frame() const noexcept { return header_len_ != 0 || remaining_ != 0; }
  /// Payload bytes delivered so far.
  [[nodiscard]] std::uint64_t payload_bytes() const noexcept { return payload_bytes_; }

 private:
  sink on_data_;
  unsigned char header_[8] = {};
  std::size_t header_len_ = 0;
  std::uint32_t remaining_ = 0;
  stream_id current_ = stream_id::stdout_stream;
  std::uint64_t payload_bytes_ = 0;
};

/// One frame of the multiplexed stream: the inverse of frame_demuxer (what a daemon sends; fake
/// daemons in tests use it).
[[nodiscard]] std::string encode_frame(stream_id id, std::string_view payload);

/// The name kernelgate's output model uses for a stream ("stdout" or "stderr").
[[nodiscard]] std::string_view stream_name(stream_id id) noexcept;

/// Percent-encodes everything but RFC 3986 unreserved characters.
[[nodiscard]] std::string url_encode(std::string_view s);

/// A query string from key/value pairs ("?a=1&b=x%2Fy"); empty when there are none.
[[nodiscard]] std::string query_string(const std::vector<std::pair<std::string, std::string>>& params);

/// "python:3-slim" -> {"python", "3-slim"}; "host:5000/x" -> {"host:5000/x", "latest"};
/// "x@sha256:..." -> {"x@sha256:...", ""}. Always an explicit tag so a pull never fetches all tags.
[[nodiscard]] std::pair<std::string, std::string> split_image_reference(std::string_view ref);

/// The `filters` JSON for a label selection: {"label":["k=v", ...]}.
[[nodiscard]] std::string label_filters(const std::map<std::string, std::string>& labels);

/// The daemon's error text from an error response body ({"message": ...} or plain text), trimmed
/// and bounded in size.
[[nodiscard]] std::string error_message_from_body(std::string_view content_type, std::string_view body);

/// Splits a stream of JSON lines (image pull progress) that arrives in arbitrary chunks.
class json_line_splitter {
 public:
  /// Feeds bytes; calls `on_line` for every complete non-blank line.
  void feed(std::string_view bytes, const std::function<void(std::string_view)>& on_line);
  /// The unterminated last line, if any.
  [[nodiscard]] const std::string& rest() const noexcept { return pending_; }

 private:
  std::string pending_;
};

}  // namespace kernelgate::docker::detail

#endif
