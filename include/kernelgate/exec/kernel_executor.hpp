#ifndef KERNELGATE_EXEC_KERNEL_EXECUTOR_HPP
#define KERNELGATE_EXEC_KERNEL_EXECUTOR_HPP

#include "kernelgate/exec/code_executor.hpp"

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace kernelgate {

/// Options of make_kernel_executor().
struct kernel_executor_options {
  /// The kernelspec to start (ignored when connection_file is set).
  std::string kernel = "python3";
  /// Attach to this running kernel instead of starting one (it is never shut down by stop(), and
  /// cannot be restarted by us).
  std::filesystem::path connection_file;
  /// The kernel's working directory. Empty: a new temporary directory, removed by stop().
  std::filesystem::path work_dir;
  /// Where rich outputs (images, HTML, JSON...) are saved; default: the work directory.
  std::optional<std::filesystem::path> output_dir;
  /// Deadline of each block; execute_options::timeout overrides it.
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
  /// How long the kernel may take to start and become ready.
  std::chrono::milliseconds startup_timeout = std::chrono::seconds(60);
  /// How long an interrupted block may take to stop before the kernel is restarted.
  std::chrono::milliseconds interrupt_grace = std::chrono::seconds(5);
  /// Variables added to the kernel's environment.
  std::map<std::string, std::string> env;
  /// The most output text a call keeps; the rest is dropped and a line says how much.
  std::size_t max_output_bytes = std::size_t{1} << 20;
};

/// An executor over one Jupyter kernel (kernel_session): blocks run in the same kernel, so state
/// persists across blocks and calls, like AutoGen's JupyterCodeExecutor.
///
/// - Languages: blocks in the kernel's language (python, py, python3 for IPython) run as-is;
///   sh, bash and shell blocks run through IPython's `%%bash` cell magic; anything else (and shell on
///   a kernel without such a facility) ends the run with exit 1 and a message naming the language.
/// - Output: stream text in arrival order, the text/plain of results and displays, tracebacks
///   without ANSI escapes; each rich output is saved to a file (output_files) and a line names it.
///   Files the code writes in the work directory (plt.savefig) are listed in output_files too.
/// - Timeout: the kernel is interrupted and the partial output kept, with a line saying so (exit
///   124). If it honours the interrupt, state survives; if not within interrupt_grace it is
///   restarted and the line says the state was lost.
/// - Cancellation (stop token): the kernel is interrupted, exit 130.
/// - Kernel death (killed, crashed): exit 1 with a message naming how it ended; the next execute()
///   starts a fresh kernel first (its state is lost, and that execute's output begins with a line
///   saying so). An attached kernel that died cannot be restarted: execute() then throws
///   errc::kernel_died.
/// - restart(): a fresh kernel namespace. stop(): shuts the kernel down (never an attached one) and
///   removes a temporary work directory.
/// @throws kernelgate::error from the factory when the kernel cannot start (errc::no_such_kernel,
///   bad_kernelspec, launch_failed) or the connection file is unusable (bad_connection_file, timeout).
[[nodiscard]] std::unique_ptr<code_executor> make_kernel_executor(kernel_executor_options options = {});

}  // namespace kernelgate

#endif
