#ifndef KERNELGATE_EXEC_MAKE_EXECUTOR_HPP
#define KERNELGATE_EXEC_MAKE_EXECUTOR_HPP

#include "kernelgate/exec/code_executor.hpp"
#include "kernelgate/exec/docker_executor.hpp"
#include "kernelgate/exec/gateway_executor.hpp"
#include "kernelgate/exec/kernel_executor.hpp"
#include "kernelgate/exec/local_executor.hpp"

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kernelgate {

/// Options of make_executor(): the backends to try, in order, and each backend's own options.
struct executor_options {
  /// Tried in this order; the first that starts is used. A gateway without a URL is skipped.
  std::vector<backend> chain{backend::kernel, backend::gateway, backend::local, backend::docker};
  /// When set, the work directory of every backend in the chain (its own option is ignored).
  std::filesystem::path work_dir;
  /// When set, the per-block timeout of every backend in the chain.
  std::optional<std::chrono::milliseconds> timeout;

  kernel_executor_options kernel;
  gateway_executor_options gateway;
  local_executor_options local;
  docker_executor_options docker;
};

/// A backend that was tried and did not start, and why.
struct skipped_backend {
  backend which = backend::local;
  std::string reason;
};

/// The executor make_executor() chose, with the reasons the backends before it were skipped.
struct executor_choice {
  std::unique_ptr<code_executor> executor;
  backend chosen = backend::local;
  std::vector<skipped_backend> skipped;

  /// One line per backend tried, e.g. "kernel: skipped (no kernelspec named 'python3' ...)" and
  /// "local: chosen".
  [[nodiscard]] std::string explain() const;
};

/// Starts the first backend of the chain that can start.
/// @throws kernelgate::error(errc::no_executor_available) listing every backend's reason when none
///   starts; errc::invalid_argument for an empty chain.
[[nodiscard]] executor_choice make_executor(executor_options options = {});

}  // namespace kernelgate

#endif
