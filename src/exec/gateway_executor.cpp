#include "kernelgate/exec/gateway_executor.hpp"

#include "detail/files.hpp"
#include "exec/session_executor.hpp"
#include "kernelgate/gateway/gateway_session.hpp"

namespace kernelgate {

std::unique_ptr<code_executor> make_gateway_executor(gateway_executor_options options) {
  detail::session_executor_config config{.kind = backend::gateway,
                                         .name = "gateway executor",
                                         .timeout = options.timeout,
                                         .interrupt_grace = options.interrupt_grace,
                                         .max_output_bytes = options.max_output_bytes};
  // The kernel runs on the server; what it writes there cannot be listed here. The local directory
  // holds the rich outputs, which the executor lists itself.
  if (options.output_dir.empty()) {
    config.work_dir = detail::make_temp_work_dir("gateway");
    config.owns_work_dir = true;
  } else {
    config.work_dir = options.output_dir;
  }
  const std::filesystem::path output_dir = config.work_dir;
  return detail::make_session_executor(std::move(config), [&]() -> std::unique_ptr<detail::executor_session> {
    return std::make_unique<detail::session_holder<gateway_session>>(
        gateway_session::start({.gateway = options.gateway,
                                .kernel = options.kernel,
                                .kernel_id = options.kernel_id,
                                .path = options.path,
                                .env = options.env,
                                .output_dir = output_dir,
                                .startup_timeout = options.startup_timeout,
                                .transport = options.transport}));
  });
}

}  // namespace kernelgate
