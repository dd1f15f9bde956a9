#include "kernelgate/exec/kernel_executor.hpp"

#include "detail/files.hpp"
#include "exec/session_executor.hpp"
#include "kernelgate/kernel/kernel_session.hpp"

namespace kernelgate {

std::unique_ptr<code_executor> make_kernel_executor(kernel_executor_options options) {
  namespace fs = std::filesystem;
  detail::session_executor_config config{.kind = backend::kernel,
                                         .name = "kernel executor",
                                         .timeout = options.timeout,
                                         .interrupt_grace = options.interrupt_grace,
                                         .max_output_bytes = options.max_output_bytes};
  if (options.connection_file.empty()) {
    if (options.work_dir.empty()) {
      config.work_dir = detail::make_temp_work_dir("kernel");
      config.owns_work_dir = true;
    } else {
      config.work_dir = options.work_dir;
    }
  } else {
    config.work_dir = options.work_dir.empty() ? fs::current_path() : options.work_dir;
  }
  const fs::path work_dir = config.work_dir;
  return detail::make_session_executor(std::move(config), [&]() -> std::unique_ptr<detail::executor_session> {
    if (!options.connection_file.empty()) {
      return std::make_unique<detail::session_holder<kernel_session>>(
          kernel_session::attach({.connection_file = options.connection_file,
                                  .output_dir = options.output_dir.value_or(work_dir),
                                  .ready_timeout = options.startup_timeout}));
    }
    return std::make_unique<detail::session_holder<kernel_session>>(
        kernel_session::start({.kernel = options.kernel,
                               .work_dir = work_dir,
                               .output_dir = options.output_dir,
                               .env = options.env,
                               .startup_timeout = options.startup_timeout}));
  });
}

}  // namespace kernelgate
