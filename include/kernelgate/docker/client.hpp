#ifndef KERNELGATE_DOCKER_CLIENT_HPP
#define KERNELGATE_DOCKER_CLIENT_HPP

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace kernelgate::docker {

/// Where and how to reach the Docker Engine.
struct client_options {
  /// "unix:///path/to/docker.sock". Empty: $DOCKER_HOST, else unix:///var/run/docker.sock.
  std::string host;
  /// Deadline of each plain request (create, inspect, remove, ...).
  std::chrono::milliseconds timeout = std::chrono::seconds(30);
  /// Deadline of an image pull, which streams progress for as long as the download takes.
  std::chrono::milliseconds pull_timeout = std::chrono::minutes(10);
};

/// One progress line of an image pull, as the daemon sends it ({"status":..., "id":..., ...}).
using pull_progress_handler = std::function<void(const nlohmann::json&)>;

/// Receives exec output as it arrives: the stream name ("stdout" or "stderr") and bytes.
using stream_data_handler = std::function<void(std::string_view stream, std::string_view data)>;

/// Why exec_stream::pump returned.
enum class stream_end {
  eof,        ///< the exec's output closed (its processes exited)
  deadline,   ///< the deadline passed first
  cancelled,  ///< the stop token was triggered first
  satisfied,  ///< the caller's `until` condition became true
};

/// The attached output of one exec: a hijacked connection of its own, demultiplexed into stdout
/// and stderr. Move-only; closing it does not stop the exec's processes (Docker has no such API).
/// Not thread-safe: one thread pumps it.
class exec_stream {
 public:
  struct impl;
  explicit exec_stream(std::unique_ptr<impl> p) noexcept;
  exec_stream(exec_stream&&) noexcept;
  exec_stream& operator=(exec_stream&&) noexcept;
  exec_stream(const exec_stream&) = delete;
  exec_stream& operator=(const exec_stream&) = delete;
  ~exec_stream();

  /// Delivers output to `on_data` until the stream ends, the deadline passes, `stop` is
  /// requested, or `until` (checked after each delivery) returns true. May be called again to
  /// read on.
  /// @throws kernelgate::error(errc::protocol_error) on a malformed stream,
  /// errc::connection_failed when the connection breaks in the middle of a frame.
  [[nodiscard]] stream_end pump(const stream_data_handler& on_data, std::chrono::steady_clock::time_point deadline,
                                std::stop_token stop = {}, const std::function<bool()>& until = {});

  /// Sends bytes to the exec's stdin (the exec must be created with AttachStdin).
  /// @throws kernelgate::error(errc::timeout) past the deadline, errc::connection_failed when the
  /// exec has gone.
  void write(std::string_view data, std::chrono::steady_clock::time_point deadline);

 private:
  std::unique_ptr<impl> impl_;
};

/// A Docker Engine API client over the daemon's Unix socket (HTTP/1.1). The API version is
/// negotiated once from GET /version; plain calls share one keep-alive connection, each exec
/// stream gets a connection of its own.
///
/// Errors: errc::docker_unavailable when the socket is missing, refuses, or is not accessible
/// (the message says how to fix it); errc::docker_api with the daemon's message and the HTTP
/// status (error::http_status()) when the daemon refuses a request; errc::timeout when a deadline
/// passes; errc::protocol_error for answers that are not HTTP or not the expected JSON.
/// Thread safety: calls may come from several threads; plain calls are serialised.
class client {
 public:
  /// Connects and negotiates the API version. @throws kernelgate::error as described above.
  explicit client(client_options options = {});
  client(client&&) noexcept;
  client& operator=(client&&) noexcept;
  client(const client&) = delete;
  client& operator=(const client&) = delete;
  ~client();

  /// The daemon address in use ("unix:///var/run/docker.sock").
  [[nodiscard]] const std::string& host() const noexcept;
  /// The negotiated API version ("1.41").
  [[nodiscard]] const std::string& api_version() const noexcept;
  /// The daemon's GET /version answer.
  [[nodiscard]] const nlohmann::json& version() const noexcept;

  /// GET /images/{name}/json, or nullopt when the daemon has no such image.
  [[nodiscard]] std::optional<nlohmann::json> inspect_image(const std::string& name);
  /// Pulls an image, reporting progress lines. @throws errc::docker_api naming the image when the
  /// pull fails, in the HTTP status or in the progress stream.
  void pull_image(const std::string& name, const pull_progress_handler& progress = {});
  /// Makes sure the image is present: inspects it, pulls it when missing. When the pull fails the
  /// error says the image is missing and how to provide it (`build_hint`, e.g. a script to run).
  void ensure_image(const std::string& name, const pull_progress_handler& progress = {},
                    const std::string& build_hint = {});

  /// POST /containers/create; returns the new container's id.
  [[nodiscard]] std::string create_container(const nlohmann::json& config, const std::string& name = {});
  /// POST /containers/{id}/start (already running counts as success).
  void start_container(const std::string& id);
  /// GET /containers/{id}/json, or nullopt when there is no such container.
  [[nodiscard]] std::optional<nlohmann::json> inspect_container(const std::string& id);
  /// POST /containers/{id}/restart?t=... (t=0: kill at once rather than wait for SIGTERM).
  void restart_container(const std::string& id, std::chrono::seconds grace = std::chrono::seconds(0));
  /// DELETE /containers/{id}?force=true&v=true. Returns false when it was already gone (or
  /// being removed).
  bool remove_container(const std::string& id);
  /// GET /containers/json?all=true filtered by labels (key=value, or key alone: label exists).
  [[nodiscard]] nlohmann::json list_containers(const std::map<std::string, std::string>& labels);

  /// POST /containers/{id}/exec; returns the exec id.
  [[nodiscard]] std::string create_exec(const std::string& container_id, const nlohmann::json& config);
  /// POST /exec/{id}/start on a new connection, hijacked into the exec's output stream.
  [[nodiscard]] exec_stream start_exec(const std::string& exec_id);
  /// GET /exec/{id}/json.
  [[nodiscard]] nlohmann::json inspect_exec(const std::string& exec_id);

  /// A raw versioned call for anything else: status and body. Does not throw on HTTP errors.
  struct reply {
    int status = 0;
    std::string content_type;
    std::string body;
  };
  [[nodiscard]] reply request(std::string_view method, const std::string& path_and_query,
                              const std::optional<nlohmann::json>& body = std::nullopt);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace kernelgate::docker

#endif
