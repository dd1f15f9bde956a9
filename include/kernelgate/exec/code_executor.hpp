#ifndef KERNELGATE_EXEC_CODE_EXECUTOR_HPP
#define KERNELGATE_EXEC_CODE_EXECUTOR_HPP

#include "kernelgate/client/output.hpp"

#include <chrono>
#include <initializer_list>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace kernelgate {

/// A block of code in a language, as extracted from a markdown message.
struct code_block {
  std::string language;
  std::string code;
  friend bool operator==(const code_block&, const code_block&) = default;
};

/// Exit codes shared by every backend (anything else comes from a process and is passed on).
namespace exit_code {
inline constexpr int success = 0;
inline constexpr int failure = 1;     ///< exception, error, bad filename, unsupported language
inline constexpr int timeout = 124;   ///< the deadline passed; partial output kept
inline constexpr int cancelled = 130; ///< cancelled through the stop token
}  // namespace exit_code

/// The outcome of running blocks: AutoGen's CodeResult/CommandLineCodeResult/IPythonCodeResult in one.
struct code_result {
  int exit_code = exit_code::success;
  std::string output;                      ///< stdout and stderr in the order produced
  std::optional<std::string> code_file;    ///< the first file written for a block, if any
  std::vector<std::string> output_files;   ///< images and other rich outputs saved to disk
  /// The kernel died, or the connection to it was lost for good, during the run: exit_code is 1,
  /// `output` keeps what arrived before and ends with a note saying what happened. The code itself
  /// need not have failed; the next execute starts a new kernel. Always false for processes.
  bool kernel_lost = false;
};

/// Per-call options of code_executor::execute.
struct execute_options {
  /// Per-block deadline; when unset the executor's configured timeout applies.
  std::optional<std::chrono::milliseconds> timeout;
  /// Streaming callback for this call; when unset the executor's handler (if any) is used.
  output_handler on_output;
  /// Cancellation: a stop request ends the running block and gives exit code 130.
  std::stop_token stop;
};

/// Which implementation an executor is.
enum class backend { kernel, gateway, local, docker };

[[nodiscard]] const char* to_string(backend b) noexcept;
[[nodiscard]] std::optional<backend> backend_from_string(std::string_view name) noexcept;

/// One interface over every way kernelgate runs code.
///
/// execute() runs blocks in order and stops at the first failure. Failures of the code itself are
/// data in the result; exceptions are for misuse and for an executor that cannot work at all.
/// restart() and stop() are safe to call twice; the destructor stops and never throws.
/// Thread safety: one execute() at a time per executor; stop tokens may be triggered from any
/// thread.
class code_executor {
 public:
  code_executor() = default;
  code_executor(const code_executor&) = delete;
  code_executor& operator=(const code_executor&) = delete;
  virtual ~code_executor() = default;

  /// Runs the blocks in order, stopping at the first that fails.
  /// @throws kernelgate::error when the executor is stopped or cannot run anything at all.
  [[nodiscard]] code_result execute(std::span<const code_block> blocks, const execute_options& options = {}) {
    return execute_impl(blocks, options);
  }
  [[nodiscard]] code_result execute(std::initializer_list<code_block> blocks, const execute_options& options = {}) {
    return execute_impl(std::span<const code_block>(blocks.begin(), blocks.size()), options);
  }

  /// A fresh state (a new namespace for kernels, a restarted container); a no-op for local processes.
  void restart() { restart_impl(); }
  /// Releases everything: kernel, container, temporary directories. Idempotent.
  void stop() noexcept { stop_impl(); }

  /// The default streaming callback for calls that do not pass their own.
  void set_output_handler(output_handler handler) { default_handler_ = std::move(handler); }

  [[nodiscard]] backend kind() const noexcept { return kind_impl(); }

 protected:
  /// The handler a call should use: its own, else the executor's default.
  [[nodiscard]] const output_handler& handler_for(const execute_options& options) const noexcept {
    return options.on_output ? options.on_output : default_handler_;
  }

 private:
  virtual code_result execute_impl(std::span<const code_block> blocks, const execute_options& options) = 0;
  virtual void restart_impl() = 0;
  virtual void stop_impl() noexcept = 0;
  virtual backend kind_impl() const noexcept = 0;

  output_handler default_handler_;
};

}  // namespace kernelgate

#endif
