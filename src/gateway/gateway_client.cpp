#include "kernelgate/gateway/gateway_client.hpp"

#include "gateway/endpoint.hpp"
#include "kernelgate/error.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <exception>
#include <optional>

namespace kernelgate {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

}  // namespace

void from_json(const nlohmann::json& j, gateway_kernel& k) {
  k.id = j.at("id").get<std::string>();
  k.name = j.value("name", std::string());
  k.last_activity = j.value("last_activity", std::string());
  k.execution_state = j.value("execution_state", std::string());
  k.connections = j.value("connections", 0);
  k.model = j;
}

void from_json(const nlohmann::json& j, gateway_kernelspec& k) {
  k.name = j.at("name").get<std::string>();
  k.spec = j.value("spec", nlohmann::json::object());
  k.display_name = k.spec.value("display_name", k.name);
  k.language = k.spec.value("language", std::string());
}

void from_json(const nlohmann::json& j, gateway_kernelspecs& k) {
  k.default_name = j.value("default", std::string());
  k.specs.clear();
  for (const auto& [name, spec] : j.at("kernelspecs").items()) {
    (void)name;
    k.specs.push_back(spec.get<gateway_kernelspec>());
  }
  std::sort(k.specs.begin(), k.specs.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
}

struct gateway_client::impl {
  gateway_options options;
  detail::endpoint ep;

  detail::http_response request(http::verb method, const std::string& path, const std::optional<nlohmann::json>& body) const {
    auto req = detail::make_request(ep, method, ep.url.prefix + path, body ? std::optional(body->dump()) : std::nullopt);

    asio::io_context io;
    std::optional<detail::http_response> result;
    std::exception_ptr failure;
    asio::co_spawn(io, detail::http_request(ep, std::move(req)), [&](std::exception_ptr e, detail::http_response r) {
      if (e) {
        failure = e;
      } else {
        result = std::move(r);
      }
    });
    io.run();
    if (failure) std::rethrow_exception(failure);
    return std::move(*result);
  }

  // Sends a request and returns the body of a 2xx response; anything else becomes an http_status error.
  std::string call(http::verb method, const std::string& path, const std::optional<nlohmann::json>& body = {}) const {
    auto r = request(method, path, body);
    if (r.status >= 200 && r.status < 300) return std::move(r.body);
    throw detail::status_error(std::string(http::to_string(method)) + " " + ep.url.display() + path, r);
  }

  template <class T>
  T call_json(http::verb method, const std::string& path, const std::optional<nlohmann::json>& body = {}) const {
    const auto text = call(method, path, body);
    try {
      return nlohmann::json::parse(text).get<T>();
    } catch (const nlohmann::json::exception& e) {
      throw error(errc::malformed_message, std::string(http::to_string(method)) + " " + ep.url.display() + path +
                                               ": the response is not the expected JSON model (" + e.what() +
                                               "); is this a Jupyter server or kernel gateway?");
    }
  }
};

gateway_client::gateway_client(gateway_options options)
    : impl_(std::make_unique<impl>(impl{options, detail::make_endpoint(options)})) {}
gateway_client::gateway_client(gateway_client&&) noexcept = default;
gateway_client& gateway_client::operator=(gateway_client&&) noexcept = default;
gateway_client::~gateway_client() = default;

nlohmann::json gateway_client::api_info() const { return impl_->call_json<nlohmann::json>(http::verb::get, "/api"); }

gateway_kernelspecs gateway_client::kernelspecs() const {
  return impl_->call_json<gateway_kernelspecs>(http::verb::get, "/api/kernelspecs");
}

std::vector<gateway_kernel> gateway_client::list_kernels() const {
  return impl_->call_json<std::vector<gateway_kernel>>(http::verb::get, "/api/kernels");
}

gateway_kernel gateway_client::start_kernel(const gateway_start_options& options) const {
  nlohmann::json body = nlohmann::json::object();
  if (!options.name.empty()) body["name"] = options.name;
  if (!options.path.empty()) body["path"] = options.path;
  if (!options.env.empty()) body["env"] = options.env;
  return impl_->call_json<gateway_kernel>(http::verb::post, "/api/kernels", body);
}

gateway_kernel gateway_client::kernel(std::string_view id) const {
  detail::check_kernel_id(id);
  return impl_->call_json<gateway_kernel>(http::verb::get, "/api/kernels/" + std::string(id));
}

void gateway_client::delete_kernel(std::string_view id) const {
  detail::check_kernel_id(id);
  (void)impl_->call(http::verb::delete_, "/api/kernels/" + std::string(id));
}

void gateway_client::interrupt_kernel(std::string_view id) const {
  detail::check_kernel_id(id);
  (void)impl_->call(http::verb::post, "/api/kernels/" + std::string(id) + "/interrupt", nlohmann::json::object());
}

gateway_kernel gateway_client::restart_kernel(std::string_view id) const {
  detail::check_kernel_id(id);
  return impl_->call_json<gateway_kernel>(http::verb::post, "/api/kernels/" + std::string(id) + "/restart",
                                          nlohmann::json::object());
}

std::string gateway_client::url() const { return impl_->ep.url.display(); }

const gateway_options& gateway_client::options() const noexcept { return impl_->options; }

}  // namespace kernelgate
