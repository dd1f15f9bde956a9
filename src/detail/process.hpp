#ifndef KERNELGATE_DETAIL_PROCESS_HPP
#define KERNELGATE_DETAIL_PROCESS_HPP

// Child processes for every layer that starts one (kernels, interpreters): spawn with pipes in a
// new process group, a pollable exit handle (pidfd), group signalling, reaping with deadlines.
// RAII: a child_process that still runs when destroyed gets its whole group killed and reaped.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kernelgate::detail {

/// A file descriptor owned by exactly one object.
class unique_fd {
 public:
  unique_fd() noexcept = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {}
  unique_fd& operator=(unique_fd&& other) noexcept;
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }

  [[nodiscard]] int get() const noexcept { return fd_; }
  [[nodiscard]] explicit operator bool() const noexcept { return fd_ >= 0; }
  int release() noexcept;
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

/// What to connect a child's standard stream to.
enum class stdio { inherit, null, pipe };

struct process_options {
  std::vector<std::string> argv;                           ///< argv[0] is looked up on PATH
  std::filesystem::path cwd;                               ///< empty: the parent's
  std::optional<std::map<std::string, std::string>> env;  ///< the whole environment; nullopt: inherit
  stdio in = stdio::null;
  stdio out = stdio::pipe;
  stdio err = stdio::pipe;
  bool merge_stderr = false;     ///< stderr goes to stdout's pipe (exact interleaving, one stream)
  bool new_process_group = true; ///< setsid(): signals can reach the child and all its descendants
};

/// Exit status as a shell reports it: the exit code, or 128 + signal number.
using exit_status = int;

/// A running (or finished, not yet destroyed) child process.
/// Move-only. Not thread-safe: one owner drives it.
class child_process {
 public:
  /// Starts the process. @throws kernelgate::error(errc::launch_failed) naming the command when
  /// fork or exec fails (the exec error travels back through a close-on-exec pipe).
  static child_process spawn(const process_options& options);

  child_process(child_process&& other) noexcept;
  child_process& operator=(child_process&& other) noexcept;
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  /// Kills the process group if the child still runs, then reaps it. Never throws.
  ~child_process();

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  /// Readable when the child has exited (pidfd); -1 where the kernel has no pidfd.
  [[nodiscard]] int exit_fd() const noexcept { return pidfd_.get(); }
  [[nodiscard]] int stdin_fd() const noexcept { return in_.get(); }
  [[nodiscard]] int stdout_fd() const noexcept { return out_.get(); }
  [[nodiscard]] int stderr_fd() const noexcept { return err_.get(); }
  /// Closes the parent's end of the child's stdin (EOF for the child).
  void close_stdin() noexcept { in_.reset(); }
  /// Gives up ownership of the stdout/stderr pipe ends (for a reader thread).
  unique_fd take_stdout() noexcept { return std::move(out_); }
  unique_fd take_stderr() noexcept { return std::move(err_); }

  /// The exit status if the child has exited (reaps it), without blocking.
  [[nodiscard]] std::optional<exit_status> try_wait() noexcept;
  /// Waits up to `timeout` for the child to exit.
  [[nodiscard]] std::optional<exit_status> wait_for(std::chrono::milliseconds timeout) noexcept;
  [[nodiscard]] bool running() noexcept { return !try_wait().has_value(); }

  /// Sends a signal to the child alone.
  void signal(int sig) noexcept;
  /// Sends a signal to the child's process group (falls back to the child when it has none).
  void signal_group(int sig) noexcept;
  /// SIGKILL to the whole group, then reaps the child. Returns its exit status.
  exit_status kill_and_reap() noexcept;

  /// Stop owning the process: it is neither killed nor reaped on destruction.
  void detach() noexcept;

 private:
  child_process() = default;
  void release_all() noexcept;

  pid_t pid_ = -1;
  bool group_ = false;
  std::optional<exit_status> status_;
  unique_fd pidfd_, in_, out_, err_;
};

/// Waits until `fd` is readable or the deadline passes; true when readable. EINTR-safe.
[[nodiscard]] bool wait_readable(int fd, std::chrono::milliseconds timeout) noexcept;

/// Looks `name` up on PATH (or checks it when it contains a slash). Empty path when not found.
[[nodiscard]] std::filesystem::path find_program(const std::string& name);

/// The current environment as a map.
[[nodiscard]] std::map<std::string, std::string> current_environment();

}  // namespace kernelgate::detail

#endif
