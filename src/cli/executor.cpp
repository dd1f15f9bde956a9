// The one place where the command turns --executor into a code_executor.
#include "cli/options.hpp"
#include "kernelgate/exec/code_executor.hpp"
#include "kernelgate/exec/local_executor.hpp"

namespace kernelgate::cli {

std::unique_ptr<code_executor> make_executor(const options& opts) {
  const auto kind = backend_from_string(opts.executor);
  if (!kind) throw usage_error("unknown executor '" + opts.executor + "' (executors: local)");
  switch (*kind) {
    case backend::local: {
      local_executor_options lo;
      lo.work_dir = opts.work_dir;
      if (opts.timeout) lo.timeout = *opts.timeout;
      return make_local_executor(std::move(lo));
    }
    case backend::kernel:
    case backend::gateway:
    case backend::docker:
      break;
  }
  throw usage_error("executor '" + opts.executor + "' is not available in this build (executors: local)");
}

}  // namespace kernelgate::cli
