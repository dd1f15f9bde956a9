// The one place where the command turns its executor options into a code_executor.
#include "cli/options.hpp"
#include "kernelgate/exec/make_executor.hpp"

namespace kernelgate::cli {

gateway_options gateway_options_of(const options& opts) {
  gateway_options g;
  g.url = opts.gateway;
  g.token = opts.token;
  g.ca_file = opts.ca_file;
  if (opts.insecure) g.tls = tls_verification::insecure;
  return g;
}

std::unique_ptr<code_executor> make_executor(const options& opts) {
  executor_options eo;
  eo.work_dir = opts.work_dir;
  eo.timeout = opts.timeout;
  if (!opts.kernel.empty()) eo.kernel.kernel = opts.kernel;
  eo.kernel.connection_file = opts.connection_file;
  if (!opts.image.empty()) eo.docker.image = opts.image;
  eo.gateway.gateway = gateway_options_of(opts);
  if (!opts.kernel.empty()) eo.gateway.kernel = opts.kernel;

  if (opts.executor == "auto") {
    if (!opts.gateway.empty()) eo.chain = {backend::gateway};
    else if (!opts.kernel.empty() || !opts.connection_file.empty()) eo.chain = {backend::kernel};
    else if (!opts.image.empty()) eo.chain = {backend::docker};
    else eo.chain = {backend::kernel, backend::local};
  } else {
    const auto kind = backend_from_string(opts.executor);
    if (!kind) throw usage_error("unknown executor '" + opts.executor + "' (executors: auto, kernel, gateway, local, docker)");
    eo.chain = {*kind};
  }
  auto choice = kernelgate::make_executor(std::move(eo));
  return std::move(choice.executor);
}

}  // namespace kernelgate::cli
