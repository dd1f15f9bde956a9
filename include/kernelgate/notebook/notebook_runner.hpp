#ifndef KERNELGATE_NOTEBOOK_NOTEBOOK_RUNNER_HPP
#define KERNELGATE_NOTEBOOK_NOTEBOOK_RUNNER_HPP

#include "kernelgate/client/kernel_client.hpp"
#include "kernelgate/kernel/kernel_session.hpp"
#include "kernelgate/notebook/notebook.hpp"

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

namespace kernelgate {

/// What to do when a cell runs past its timeout. Either way the kernel is interrupted first.
enum class cell_timeout_action {
  stop,                    ///< record the failure and stop the run (nbclient's default)
  interrupt_and_continue,  ///< keep the interrupted cell's outputs and go on with the next cell
};

/// Progress of a run, reported before and after each executed code cell.
struct cell_event {
  enum class phase { started, finished };
  phase when = phase::started;
  std::size_t cell_index = 0;   ///< index in the notebook's cells
  std::size_t code_number = 0;  ///< 1-based among the code cells that will run
  std::size_t code_total = 0;   ///< code cells that will run
  std::chrono::milliseconds elapsed{0};  ///< finished only: the cell's wall time
  std::string status;           ///< finished only: "ok", "error", "timeout"
};

struct notebook_run_options {
  /// The kernelspec to start; empty: the notebook's metadata.kernelspec.name, else "python3".
  std::string kernel;
  /// The kernel's working directory; empty: the current directory.
  std::filesystem::path work_dir;
  /// Per-cell limit; unset: none (the wait still ends if the kernel dies).
  std::optional<std::chrono::milliseconds> cell_timeout;
  cell_timeout_action on_timeout = cell_timeout_action::stop;
  /// How long an interrupted cell gets to end before the run gives up on the kernel.
  std::chrono::milliseconds interrupt_grace{10000};
  /// Errors do not stop the run (cells tagged raises-exception never do).
  bool allow_errors = false;
  /// Errors of these names (ename, e.g. "KeyError") do not stop the run (nbclient's allow_error_names).
  std::vector<std::string> allow_error_names;
  /// Every error stops the run, whatever allow_errors, allow_error_names and the raises-exception
  /// tag say (nbclient's force_raise_errors).
  bool force_raise_errors = false;
  /// Papermill-style parameters injected after the cell tagged `parameters`.
  parameter_list parameters;
  /// Writes nbclient's metadata.execution timestamps on each executed cell.
  bool record_timing = true;
  /// Writes papermill's metadata: metadata.papermill on every cell (start_time, end_time, duration
  /// in seconds, status "pending", "completed" or "failed", exception) and on the notebook
  /// (start_time, end_time, duration, exception; parameters are recorded either way).
  bool record_papermill_metadata = false;
  /// Merges consecutive stream outputs of one name and applies \r and \b in them.
  bool coalesce_streams = true;
  std::chrono::milliseconds startup_timeout{60000};
  /// Where an IPython kernel started for the run keeps its history. ":memory:" (nbclient's default)
  /// keeps runs independent and fast — each cell would otherwise be written to the shared SQLite
  /// history file; empty: the kernel's own setting.
  std::string ipython_history_file = ":memory:";
  /// Keeps ipykernel's 0.5 ms pause before each execute_reply in a kernel started for the run
  /// (kernel_start_options::ipython_reply_pause). The runner reads a cell's outputs up to its idle
  /// status, so it does not need the pause: without it, 200 cells run about 0.1 s faster.
  bool ipython_reply_pause = false;
  /// Progress callback, on the calling thread.
  std::function<void(const cell_event&)> on_cell;
  /// A stop request interrupts the running cell and ends the run (failure with `cancelled`).
  std::stop_token stop;
};

/// The first unexpected failure, which ended the run.
struct cell_failure {
  std::size_t cell_index = 0;
  std::string ename, evalue;
  std::vector<std::string> traceback;
  bool timed_out = false;
  bool kernel_died = false;
  bool cancelled = false;  ///< the run was stopped through notebook_run_options::stop
};

struct notebook_run_result {
  notebook nb;  ///< the executed notebook (partially executed when the run stopped early)
  std::size_t cells_executed = 0;
  std::optional<cell_failure> failure;
  [[nodiscard]] bool ok() const noexcept { return !failure.has_value(); }
};

/// The kernel a runner drives: a client to talk to it, a way to interrupt it.
struct notebook_kernel {
  kernel_client& client;
  std::function<void()> interrupt;
  /// The kernel's kernel_info_reply when the caller already has one (saves a round trip); null:
  /// the runner asks for it.
  const kernel_info_reply* info = nullptr;
};

/// The notebook_kernel of a running session (kernel_session or gateway_session): its client, its
/// interrupt, and the kernel_info_reply it received at start-up. Valid while the session lives.
template <class Session>
[[nodiscard]] notebook_kernel kernel_of(Session& session) {
  return {.client = session.client(), .interrupt = [&session] { session.interrupt(); }, .info = &session.info()};
}

/// The kernelspec a run of `nb` uses: options.kernel, else the notebook's, else python3.
[[nodiscard]] std::string notebook_kernel_name(const notebook& nb, const notebook_run_options& options);

/// How run_notebook(nb, options) starts its kernel: the kernelspec (notebook_kernel_name),
/// work_dir, startup_timeout, the reply pause, and for an IPython kernel the history file. For
/// callers that start the session themselves and want the same kernel.
[[nodiscard]] kernel_start_options notebook_kernel_start(const notebook& nb, const notebook_run_options& options);

/// Runs every code cell of `nb` in order in a fresh kernel over ZeroMQ, shut down afterwards.
/// Code errors and timeouts are data in the result (and the executed notebook keeps the outputs so
/// far); exceptions are for a kernel that cannot start.
/// @throws kernelgate::error(errc::no_such_kernel / launch_failed / invalid_argument).
[[nodiscard]] notebook_run_result run_notebook(notebook nb, const notebook_run_options& options = {});

/// The same on a running kernel of any backend. `options.kernel`, `work_dir` and
/// `startup_timeout` are not used.
[[nodiscard]] notebook_run_result run_notebook(notebook nb, notebook_kernel kernel, const notebook_run_options& options);

}  // namespace kernelgate

#endif
