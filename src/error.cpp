#include "kernelgate/error.hpp"

namespace kernelgate {
namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "kernelgate"; }
  std::string message(int value) const override { return to_string(static_cast<errc>(value)); }
};

}  // namespace

const char* to_string(errc e) noexcept {
  switch (e) {
    case errc::signature_mismatch: return "signature_mismatch";
    case errc::replayed_message: return "replayed_message";
    case errc::unsigned_message: return "unsigned_message";
    case errc::malformed_message: return "malformed_message";
    case errc::unsupported_scheme: return "unsupported_scheme";
    case errc::invalid_argument: return "invalid_argument";
    case errc::io_error: return "io_error";
    case errc::bad_connection_file: return "bad_connection_file";
    case errc::no_such_kernel: return "no_such_kernel";
    case errc::bad_kernelspec: return "bad_kernelspec";
    case errc::launch_failed: return "launch_failed";
    case errc::kernel_died: return "kernel_died";
    case errc::timeout: return "timeout";
    case errc::cancelled: return "cancelled";
    case errc::not_connected: return "not_connected";
    case errc::protocol_error: return "protocol_error";
    case errc::http_status: return "http_status";
    case errc::connection_failed: return "connection_failed";
    case errc::websocket_closed: return "websocket_closed";
    case errc::tls_error: return "tls_error";
    case errc::docker_api: return "docker_api";
    case errc::docker_unavailable: return "docker_unavailable";
    case errc::no_executor_available: return "no_executor_available";
    case errc::malformed_notebook: return "malformed_notebook";
    case errc::cell_error: return "cell_error";
  }
  return "unknown kernelgate error";
}

const std::error_category& error_category() noexcept {
  static const category instance;
  return instance;
}

std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

error::error(errc code, const std::string& message)
    : std::system_error(make_error_code(code), message), message_(std::make_shared<const std::string>(message)) {}

error::error(errc code, int http_status, const std::string& message)
    : std::system_error(make_error_code(code), message),
      message_(std::make_shared<const std::string>(message)),
      http_status_(http_status) {}

}  // namespace kernelgate
