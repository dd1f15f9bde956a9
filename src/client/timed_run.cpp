#include "client/timed_run.hpp"

namespace kernelgate::detail {

run_result timed_run(kernel_client& client, const std::string& code, const run_options& options,
                     const std::optional<std::filesystem::path>& output_dir, const timed_run_hooks& hooks) {
  execute_request req;
  req.code = code;
  req.store_history = options.store_history;
  // Each execute stands alone: with stop_on_error the kernel would abort (not run) requests that
  // arrive shortly after a failed one, even though they were sent after it finished.
  req.stop_on_error = false;
  req.on_output = options.on_output;
  req.on_input = options.on_input;
  req.output_dir = output_dir;
  run_result result;
  pending_execute p = client.execute_async(std::move(req));
  const deadline until = options.timeout ? deadline(*options.timeout) : deadline(std::chrono::hours(24 * 365));
  if (p.wait(until)) {
    static_cast<execute_reply&>(result) = p.take_result();
    return result;
  }
  // Timed out: interrupt, keep what came, and give the kernel a grace period to finish the request.
  hooks.interrupt();
  const bool finished = p.wait(options.interrupt_grace);
  static_cast<execute_reply&>(result) = p.take_result();
  result.timed_out = true;
  if (!finished) {
    p.abandon();
    if (hooks.restart) {
      hooks.restart();
      result.state_lost = true;
    }
  }
  return result;
}

}  // namespace kernelgate::detail
