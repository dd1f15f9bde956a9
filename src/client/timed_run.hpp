#ifndef KERNELGATE_SRC_CLIENT_TIMED_RUN_HPP
#define KERNELGATE_SRC_CLIENT_TIMED_RUN_HPP

// One execute with the session semantics every kernel backend shares (ZeroMQ kernel_session and
// gateway_session): independent requests, a timeout that interrupts and keeps the partial output,
// a grace period, and a restart when the interrupt is not honoured.

#include "kernelgate/client/kernel_client.hpp"
#include "kernelgate/kernel/kernel_session.hpp"

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace kernelgate::detail {

/// What a session lends timed_run for one call.
struct timed_run_hooks {
  std::function<void()> interrupt;  ///< signal, interrupt_request or REST, as the backend does it
  std::function<void()> restart;    ///< null when the session may not restart the kernel (attached)
};

/// Runs `code` to completion or to options.timeout (then interrupt, wait options.interrupt_grace,
/// restart when still running). @throws what kernel_client throws (kernel_died, not_connected).
[[nodiscard]] run_result timed_run(kernel_client& client, const std::string& code, const run_options& options,
                                   const std::optional<std::filesystem::path>& output_dir, const timed_run_hooks& hooks);

}  // namespace kernelgate::detail

#endif
