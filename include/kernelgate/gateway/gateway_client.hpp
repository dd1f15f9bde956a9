#ifndef KERNELGATE_GATEWAY_GATEWAY_CLIENT_HPP
#define KERNELGATE_GATEWAY_GATEWAY_CLIENT_HPP

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kernelgate {

/// Whether HTTPS and WSS connections check the server's certificate and host name.
enum class tls_verification {
  verify,    ///< the default: the chain must lead to a trusted CA and the name must match
  insecure,  ///< accept any certificate; only on explicit request
};

/// Where a Jupyter kernel gateway (or jupyter-server) is, and how to talk to it.
struct gateway_options {
  /// Base URL: `http://host:port` or `https://host:port`, optionally with a path prefix
  /// (`https://hub.example/user/ana`). No query string.
  std::string url;
  /// The server's token, sent as `Authorization: token <t>`. nullopt: the environment variable
  /// KERNELGATE_GATEWAY_TOKEN (when set); an empty string: no token at all.
  std::optional<std::string> token;
  /// Extra headers sent with every request and WebSocket upgrade.
  std::vector<std::pair<std::string, std::string>> headers;
  /// PEM file of CAs trusted for HTTPS; empty: the system's trust store.
  std::filesystem::path ca_file;
  tls_verification tls = tls_verification::verify;
  /// Deadline to open a connection: name resolution, TCP connect and TLS handshake.
  std::chrono::milliseconds connect_timeout{10'000};
  /// Deadline for one request once connected (send it and read the whole response).
  std::chrono::milliseconds request_timeout{60'000};
  /// How many more times a connection that could not be made is tried (never a request that was sent).
  int connect_retries = 3;
  /// The first pause between connection attempts; it doubles after each failed attempt.
  std::chrono::milliseconds retry_backoff{200};
};

/// A kernel as the gateway describes it (`GET /api/kernels/{id}`).
struct gateway_kernel {
  std::string id;
  std::string name;             ///< kernelspec name
  std::string last_activity;    ///< ISO 8601
  std::string execution_state;  ///< starting, idle, busy, restarting, dead, ...
  int connections = 0;
  nlohmann::json model = nlohmann::json::object();  ///< the whole model as received
};
void from_json(const nlohmann::json& j, gateway_kernel& k);

/// One kernelspec offered by the gateway.
struct gateway_kernelspec {
  std::string name;
  std::string display_name;
  std::string language;
  nlohmann::json spec = nlohmann::json::object();  ///< the kernel.json as the server reports it
};
void from_json(const nlohmann::json& j, gateway_kernelspec& k);

/// `GET /api/kernelspecs`: the default kernel name and every spec, sorted by name.
struct gateway_kernelspecs {
  std::string default_name;
  std::vector<gateway_kernelspec> specs;
};
void from_json(const nlohmann::json& j, gateway_kernelspecs& k);

/// What `POST /api/kernels` asks for.
struct gateway_start_options {
  std::string name;                        ///< kernelspec; empty: the server's default
  std::string path;                        ///< working directory relative to the server's root; empty: the root
  std::map<std::string, std::string> env;  ///< honoured by Kernel/Enterprise Gateway (KERNEL_* names)
};

/// A REST client for the kernels API of a Jupyter kernel gateway or jupyter-server.
///
/// Every call opens its own connection (so calls from several threads are independent) within the
/// connect deadline, retries only connections that could not be made, and waits for the response
/// within the request deadline. Failures are kernelgate::error: http_status (with the status and the
/// server's message; 401/403 mean a bad token, 404 an unknown, deleted or culled kernel),
/// connection_failed, tls_error, timeout, malformed_message. The token never appears in them.
/// Thread safety: all member functions may be called concurrently.
class gateway_client {
 public:
  /// Checks the options (URL, CA file) and reads the token.
  /// @throws kernelgate::error(errc::invalid_argument) for a URL or CA file that cannot be used.
  explicit gateway_client(gateway_options options);
  gateway_client(gateway_client&&) noexcept;
  gateway_client& operator=(gateway_client&&) noexcept;
  gateway_client(const gateway_client&) = delete;
  gateway_client& operator=(const gateway_client&) = delete;
  ~gateway_client();

  /// `GET /api`: the server's version document, e.g. {"version": "1.23.3"}.
  [[nodiscard]] nlohmann::json api_info() const;
  /// `GET /api/kernelspecs`.
  [[nodiscard]] gateway_kernelspecs kernelspecs() const;
  /// `GET /api/kernels` (a Kernel Gateway answers 403 unless listing is enabled).
  [[nodiscard]] std::vector<gateway_kernel> list_kernels() const;
  /// `POST /api/kernels`: starts a kernel and returns its model.
  [[nodiscard]] gateway_kernel start_kernel(const gateway_start_options& options = {}) const;
  /// `GET /api/kernels/{id}`. @throws error(errc::http_status) with status 404 for an unknown kernel.
  [[nodiscard]] gateway_kernel kernel(std::string_view id) const;
  /// `DELETE /api/kernels/{id}`: shuts the kernel down.
  void delete_kernel(std::string_view id) const;
  /// `POST /api/kernels/{id}/interrupt`.
  void interrupt_kernel(std::string_view id) const;
  /// `POST /api/kernels/{id}/restart`: returns once the server has the new kernel running.
  gateway_kernel restart_kernel(std::string_view id) const;

  /// The base URL (scheme, host, port, prefix), for messages.
  [[nodiscard]] std::string url() const;
  /// The options this client was made with (the token included: do not log them).
  [[nodiscard]] const gateway_options& options() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace kernelgate

#endif
