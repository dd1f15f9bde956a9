#ifndef KERNELGATE_KERNEL_KERNEL_SESSION_HPP
#define KERNELGATE_KERNEL_KERNEL_SESSION_HPP

// A stateful session with one Jupyter kernel over ZeroMQ: start it from a kernelspec (or attach to a
// running one through its connection file), wait until it is ready, run code, interrupt, restart,
// shut down. It composes the kernel layer (spec, connection file, process) with the ZeroMQ
// transport and the kernel_client.

#include "kernelgate/client/deadline.hpp"
#include "kernelgate/client/kernel_client.hpp"
#include "kernelgate/kernel/kernelspec.hpp"

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kernelgate {

/// How to start a kernel.
struct kernel_start_options {
  std::string kernel = "python3";              ///< kernelspec name
  std::filesystem::path work_dir;              ///< the kernel's cwd; empty: the current directory
  std::optional<std::filesystem::path> output_dir;  ///< where rich outputs go; default work_dir
  std::map<std::string, std::string> env;      ///< added to the current environment (then the spec's)
  /// Appended to the kernelspec's command line (kept across restarts), e.g. IPython options.
  std::vector<std::string> extra_arguments;
  /// ipykernel pauses 0.5 ms before every execute_reply (its Kernel._execute_sleep), so that a
  /// client that stops reading at the reply still gets the request's last output. The session's
  /// client reads outputs up to the kernel's idle status, which comes after them on the same
  /// channel, so a kernelspec that runs ipykernel is started with the pause off (about 0.5 ms saved
  /// per execute). True keeps it, for other clients of the kernel that stop at the reply; so does a
  /// pause set in extra_arguments.
  bool ipython_reply_pause = false;
  std::chrono::milliseconds startup_timeout{60000};
  std::chrono::milliseconds heartbeat_interval{1000};
  /// Dropped frames, throwing handlers: see kernel_client_options::on_error.
  std::function<void(const error&)> on_error;
};

/// How to attach to a running kernel (not owned: never killed, only disconnected).
struct kernel_attach_options {
  std::filesystem::path connection_file;
  std::optional<std::filesystem::path> output_dir;  ///< default: the current directory
  std::chrono::milliseconds ready_timeout{30000};
  std::chrono::milliseconds heartbeat_interval{1000};
  std::function<void(const error&)> on_error;
};

/// Per-call options of kernel_session::execute.
struct run_options {
  /// When it passes, the kernel is interrupted and the result says timed_out; unset: no limit (the
  /// wait still ends when the kernel dies).
  std::optional<std::chrono::milliseconds> timeout;
  /// How long an interrupted kernel gets to finish the request before the session restarts it.
  std::chrono::milliseconds interrupt_grace{5000};
  output_handler on_output;  ///< each output as it arrives (transport thread)
  input_handler on_input;    ///< answers input(); without it input() fails at once
  bool store_history = true;
};

/// The outcome of kernel_session::execute.
struct run_result : execute_reply {
  bool timed_out = false;   ///< the timeout passed and the kernel was interrupted
  bool state_lost = false;  ///< the interrupt was not honoured in time: the kernel was restarted
};

/// One kernel, owned or attached.
///
/// Move-only. Thread safety: execute/complete/... may be called from several threads at once (the
/// client matches replies by msg_id); interrupt() from any thread; restart() and shutdown() must not
/// race with each other or with the destructor.
/// The destructor shuts an owned kernel down (request, SIGTERM, SIGKILL) and never leaves a process.
class kernel_session {
 public:
  /// Starts a kernel and waits until it is ready (kernel_info reply and IOPub traffic seen).
  /// @throws kernelgate::error(errc::no_such_kernel / bad_kernelspec) for the spec;
  ///         errc::launch_failed naming the kernel, its command and its output tail when it cannot
  ///         start, exits during start-up, or is not ready within startup_timeout.
  [[nodiscard]] static kernel_session start(kernel_start_options options = {});

  /// Connects to the kernel described by a connection file and waits until it answers.
  /// @throws kernelgate::error(errc::bad_connection_file); errc::timeout or errc::kernel_died when
  ///         it does not answer.
  [[nodiscard]] static kernel_session attach(kernel_attach_options options);

  kernel_session(kernel_session&&) noexcept;
  kernel_session& operator=(kernel_session&&) noexcept;
  kernel_session(const kernel_session&) = delete;
  kernel_session& operator=(const kernel_session&) = delete;
  ~kernel_session();

  /// Runs code. Code errors are data (status error, ename, traceback); a timeout interrupts the
  /// kernel and returns what was produced so far with timed_out set.
  /// @throws kernelgate::error(errc::kernel_died) when the kernel dies during the call (its exit and
  ///         output tail in the message); errc::not_connected after shutdown().
  run_result execute(const std::string& code, const run_options& options = {});

  /// Interrupts the running code: SIGINT to the process group, or interrupt_request on control, as
  /// the kernelspec's interrupt_mode says (attached kernels: interrupt_request).
  void interrupt();

  /// A fresh kernel on the same connection (same ports and key): the namespace is empty afterwards.
  /// @throws kernelgate::error(errc::invalid_argument) for an attached kernel; errc::launch_failed.
  void restart();

  /// Shuts down: shutdown_request on control, then SIGTERM, then SIGKILL, then removes the
  /// connection file. For an attached kernel only disconnects. Idempotent; never throws.
  void shutdown() noexcept;

  /// The client, for completion, inspection, history and the rest.
  [[nodiscard]] kernel_client& client();
  /// The kernel_info_reply received when the kernel became ready.
  [[nodiscard]] const kernel_info_reply& info() const;
  /// The kernelspec name ("" when attached without kernel_name in the connection file).
  [[nodiscard]] const std::string& kernel_name() const;
  [[nodiscard]] const std::filesystem::path& connection_file() const;
  /// The kernel's process id, 0 when attached.
  [[nodiscard]] int pid() const;
  /// Whether this session started (and so owns) the kernel.
  [[nodiscard]] bool owned() const;
  /// Whether the kernel is alive as far as the session knows (process and heartbeat).
  [[nodiscard]] bool alive() const;

 private:
  struct impl;
  explicit kernel_session(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace kernelgate

#endif
