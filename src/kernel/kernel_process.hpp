#ifndef KERNELGATE_KERNEL_KERNEL_PROCESS_HPP
#define KERNELGATE_KERNEL_KERNEL_PROCESS_HPP

// A launched kernel process (private to the kernel layer): spawned from a kernelspec in its own
// process group with JPY_PARENT_PID, its stdout+stderr drained into a bounded tail for launch_failed
// messages, and killed with its whole group when the handle goes away.

#include "detail/process.hpp"
#include "kernelgate/kernel/kernelspec.hpp"

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace kernelgate::detail {

/// Keeps the last `capacity` bytes a child writes to a pipe, read by its own thread (a kernel that
/// fills an unread pipe would block). Stops at EOF or on destruction.
/// Copy/move: neither (owns a thread); hold behind a pointer.
class output_tail {
 public:
  output_tail(unique_fd pipe, std::size_t capacity);
  output_tail(const output_tail&) = delete;
  output_tail& operator=(const output_tail&) = delete;
  ~output_tail();
  /// The last bytes written, trimmed to whole lines where possible.
  [[nodiscard]] std::string text() const;
  /// Waits (bounded) until the writer side reached EOF, so the tail is complete after an exit.
  void wait_eof(std::chrono::milliseconds timeout);

 private:
  void run();
  unique_fd pipe_, stop_;
  std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable eof_cv_;
  bool eof_ = false;
  std::string buffer_;
  std::thread thread_;
};

/// One kernel process. Move-only through unique_ptr; not thread-safe (its session serialises use).
class kernel_process {
 public:
  /// Spawns `spec` for `connection_file` in `work_dir` with `extra_env` over the current environment.
  /// @throws kernelgate::error(errc::launch_failed) naming the kernel and command.
  static std::unique_ptr<kernel_process> launch(const kernelspec& spec, const std::filesystem::path& connection_file,
                                                const std::filesystem::path& work_dir,
                                                const std::map<std::string, std::string>& extra_env);
  kernel_process(const kernel_process&) = delete;
  kernel_process& operator=(const kernel_process&) = delete;
  /// Kills the process group (if still running) and reaps.
  ~kernel_process();

  [[nodiscard]] pid_t pid() const noexcept { return child_.pid(); }
  [[nodiscard]] int exit_fd() const noexcept { return child_.exit_fd(); }
  [[nodiscard]] const std::string& command() const noexcept { return command_; }
  [[nodiscard]] std::string name() const;  ///< "kernel python3 (pid 1234)"
  [[nodiscard]] std::optional<exit_status> exited() noexcept { return child_.try_wait(); }
  /// stdout+stderr tail, waiting briefly for the pipe's EOF when the process has exited.
  [[nodiscard]] std::string output_tail_text();

  void signal_group(int sig) noexcept { child_.signal_group(sig); }
  /// SIGTERM to the group, wait up to `grace`, then SIGKILL; reaps. Returns the exit status.
  exit_status terminate(std::chrono::milliseconds grace) noexcept;
  [[nodiscard]] std::optional<exit_status> wait_for(std::chrono::milliseconds t) noexcept { return child_.wait_for(t); }

 private:
  kernel_process(child_process child, std::string spec_name, std::string command);
  child_process child_;
  std::string spec_name_, command_;
  std::unique_ptr<output_tail> tail_;
};

}  // namespace kernelgate::detail

#endif
