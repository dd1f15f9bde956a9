#include "kernelgate/notebook/notebook_runner.hpp"

#include "kernelgate/error.hpp"
#include "kernelgate/kernel/kernel_session.hpp"
#include "kernelgate/wire/message.hpp"
#include "notebook/cell_outputs.hpp"

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

namespace kernelgate {

namespace {

using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

bool runs(const json& cell) {
  if (cell.value("cell_type", std::string()) != "code") return false;
  const auto& source = cell["source"].get_ref<const std::string&>();
  if (std::all_of(source.begin(), source.end(), [](unsigned char c) { return std::isspace(c); })) return false;
  return !cell_has_tag(cell, "skip-execution");
}

cell_failure failure_from(std::size_t index, const execute_reply& reply) {
  return {.cell_index = index, .ename = reply.ename, .evalue = reply.evalue, .traceback = reply.traceback};
}

double seconds_between(clock_type::time_point from, clock_type::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// papermill's record of a run (notebook_run_options::record_papermill_metadata): every cell starts
// "pending", a code cell that runs becomes "running", then "completed" or "failed" with its times.
void papermill_pending(json& cell) {
  cell["metadata"]["papermill"] = {{"start_time", nullptr}, {"end_time", nullptr}, {"duration", nullptr},
                                   {"status", "pending"},   {"exception", nullptr}};
}

void papermill_started(json& cell) {
  auto& pm = cell["metadata"]["papermill"];
  pm["start_time"] = iso8601_now();
  pm["status"] = "running";
}

void papermill_finished(json& cell, double duration, bool failed) {
  auto& pm = cell["metadata"]["papermill"];
  pm["end_time"] = iso8601_now();
  pm["duration"] = duration;
  pm["status"] = failed ? "failed" : "completed";
  pm["exception"] = failed;
}

}  // namespace

notebook_run_result run_notebook(notebook nb, notebook_kernel kernel, const notebook_run_options& options) {
  inject_parameters(nb, options.parameters);

  // nbclient records the kernel's language_info in the notebook.
  const kernel_info_reply info = kernel.info ? *kernel.info : kernel.client.kernel_info(std::chrono::seconds(30));
  if (info.content.contains("language_info") && info.content["language_info"].is_object())
    nb.metadata()["language_info"] = info.content["language_info"];

  // Interrupting may fail (a kernel that just died, a gateway gone); the waits that follow report
  // it. It must not throw from a stop callback, which would end the program.
  const auto interrupt = [&kernel]() noexcept {
    try {
      kernel.interrupt();
    } catch (...) {
    }
  };

  auto& cells = nb.cells();
  const auto run_started = clock_type::now();
  const bool papermill = options.record_papermill_metadata;
  if (papermill) {
    nb.metadata()["papermill"]["start_time"] = iso8601_now();
    for (auto& cell : cells) papermill_pending(cell);
  }
  std::size_t total = 0;
  for (const auto& cell : cells) total += runs(cell) ? 1 : 0;
  const auto next_runnable = [&cells](std::size_t from) {
    while (from < cells.size() && !runs(cells[from])) ++from;
    return from;
  };

  // The next cell is sent as soon as the current one's execute_reply says the run goes on, while
  // the current one's last output and idle are still on their way: the kernel never waits for the
  // round trip, yet only runs a cell once the one before it has finished, as nbclient's one-at-a-time
  // order does. Messages arrive on the transport's thread; `sink` writes those of the active cell
  // into the notebook, holds back those of the cell sent ahead until it becomes active, and drops
  // the rest (a request abandoned after an ignored interrupt). The message hooks share ownership of
  // it: one may still be running on the transport's thread when this function returns.
  struct guarded_outputs {
    guarded_outputs(bool coalesce_streams, bool record_timing) : outputs(coalesce_streams, record_timing) {}
    std::mutex m;
    std::optional<std::size_t> active, ahead;
    std::vector<message> held;
    detail::notebook_outputs outputs;
    void deliver(const message& m) {
      if (m.chan == channel::iopub) outputs.on_iopub(m);
      else if (m.msg_type() == "execute_reply") outputs.on_reply(m);
    }
  };
  const auto shared_sink = std::make_shared<guarded_outputs>(options.coalesce_streams, options.record_timing);
  auto& sink = *shared_sink;

  struct in_flight {
    std::size_t index = 0;
    std::size_t number = 0;
    pending_execute pending;
    clock_type::time_point started;
    deadline until;
  };
  const auto send = [&](std::size_t index, std::size_t number) {
    execute_request request;
    request.code = cells[index]["source"].get<std::string>();
    // One cell at a time means no queue for stop_on_error to abort; left on, ipykernel may abort the
    // next cell when it arrives just after an interrupted (or failed but allowed) one.
    request.stop_on_error = false;
    request.collect_outputs = false;  // the sink writes them into the notebook
    request.on_message = [shared_sink, index](const message& m) {
      auto& sink = *shared_sink;
      std::lock_guard lk(sink.m);
      if (sink.active == index) sink.deliver(m);
      else if (sink.ahead == index) sink.held.push_back(m);
    };
    const auto started = clock_type::now();
    auto pending = kernel.client.execute_async(std::move(request));
    return in_flight{.index = index, .number = number, .pending = std::move(pending), .started = started,
                     .until = options.cell_timeout ? deadline(*options.cell_timeout)
                                                   : deadline(std::chrono::hours(24 * 365))};
  };

  std::size_t executed = 0;
  std::optional<cell_failure> run_failure;
  std::optional<in_flight> ahead;
  for (std::size_t index = next_runnable(0), number = 0; index < cells.size(); index = next_runnable(index + 1)) {
    auto& cell = cells[index];
    if (!ahead && options.stop.stop_requested()) {
      run_failure = cell_failure{.cell_index = index, .ename = "Cancelled", .evalue = "the run was stopped",
                                 .cancelled = true};
      break;
    }
    ++number;
    if (options.on_cell)
      options.on_cell({.when = cell_event::phase::started, .cell_index = index, .code_number = number,
                       .code_total = total});
    // nbclient's rule for whether an error of this cell lets the run go on. The tag is read now,
    // before the cell's messages are written into it from the transport's thread.
    const bool tagged = cell_has_tag(cell, "raises-exception");
    const auto error_allowed = [&](const std::string& ename) {
      if (options.force_raise_errors) return false;
      return options.allow_errors || tagged ||
             std::find(options.allow_error_names.begin(), options.allow_error_names.end(), ename) !=
                 options.allow_error_names.end();
    };

    std::optional<cell_failure> failure;
    bool timed_out = false;
    execute_reply reply;
    std::optional<in_flight> current;
    auto started = clock_type::now();  // when it was sent, once it is
    try {
      // A stop request interrupts the cell; it then ends like any interrupted cell.
      std::stop_callback on_stop(options.stop, interrupt);
      {
        std::lock_guard lk(sink.m);
        if (papermill) papermill_started(cell);
        sink.outputs.begin_cell(cells, index);
        sink.active = index;
        sink.ahead.reset();
        for (const auto& m : sink.held) sink.deliver(m);
        sink.held.clear();
      }
      if (ahead) {
        current = std::move(ahead);
        ahead.reset();
      } else {
        current = send(index, number);
      }
      started = current->started;
      auto& pending = current->pending;
      const auto replied = pending.wait_for_reply(current->until);
      const std::size_t following = next_runnable(index + 1);
      if (replied && following < cells.size() && !options.stop.stop_requested() &&
          (replied->status == reply_status::ok ||
           (replied->status == reply_status::error && error_allowed(replied->ename)))) {
        {
          std::lock_guard lk(sink.m);
          sink.ahead = following;
        }
        ahead = send(following, number + 1);
      }
      if (!pending.wait(current->until)) {
        timed_out = true;
        if (ahead) {
          // Replied but no idle: the code is not running, the next cell is; nothing to interrupt.
          pending.abandon();
          failure = cell_failure{.cell_index = index, .ename = "CellTimeoutError",
                                 .evalue = "the kernel replied but did not report the cell finished within its timeout",
                                 .timed_out = true};
        } else {
          interrupt();
          if (!pending.wait(options.interrupt_grace)) {
            pending.abandon();
            failure = cell_failure{.cell_index = index, .ename = "CellTimeoutError",
                                   .evalue = "the cell did not finish within its timeout and ignored the interrupt",
                                   .timed_out = true};
          }
        }
      }
      reply = pending.result();
    } catch (const error& e) {
      if (e.condition() != errc::kernel_died && e.condition() != errc::not_connected) throw;
      failure = cell_failure{.cell_index = index, .ename = "DeadKernelError", .evalue = e.what(), .kernel_died = true};
    }
    {
      std::lock_guard lk(sink.m);
      sink.active.reset();
      sink.outputs.end_cell();
      // nbclient numbers executed code cells itself: the kernel's counter is not used.
      cell["execution_count"] = static_cast<int>(number);
    }
    ++executed;

    std::string status = "ok";
    if (!failure && options.stop.stop_requested()) {
      status = "cancelled";
      failure = cell_failure{.cell_index = index, .ename = "Cancelled", .evalue = "the run was stopped",
                             .cancelled = true};
    } else if (!failure && timed_out) {
      status = "timeout";
      if (options.on_timeout == cell_timeout_action::stop) {
        failure = failure_from(index, reply);
        failure->timed_out = true;
        if (failure->ename.empty()) failure->ename = "CellTimeoutError";
        failure->evalue = "timed out after " + std::to_string(options.cell_timeout->count()) + " ms" +
                          (failure->evalue.empty() ? "" : " (" + failure->evalue + ")");
      }
    } else if (!failure && reply.status == reply_status::aborted) {
      status = "error";
      failure = cell_failure{.cell_index = index, .ename = "CellAborted",
                             .evalue = "the kernel aborted the cell without running it"};
    } else if (!failure && reply.status == reply_status::error) {
      status = "error";
      if (!error_allowed(reply.ename)) failure = failure_from(index, reply);
    } else if (failure && !failure->cancelled) {
      status = failure->timed_out ? "timeout" : "error";
    }
    const auto finished = clock_type::now();
    if (papermill) {
      std::lock_guard lk(sink.m);
      papermill_finished(cell, seconds_between(started, finished), failure.has_value());
    }
    if (options.on_cell)
      options.on_cell({.when = cell_event::phase::finished, .cell_index = index, .code_number = number,
                       .code_total = total,
                       .elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(finished - started),
                       .status = status});
    if (failure) {
      run_failure = std::move(failure);
      break;
    }
  }
  if (ahead) {
    // The run ended while the next cell was already sent (stopped, or its predecessor never reported
    // idle): stop it, and leave its notebook cell as it was.
    interrupt();
    ahead->pending.abandon();
  }
  std::lock_guard lk(sink.m);
  sink.active.reset();
  sink.ahead.reset();
  if (papermill) {
    auto& pm = nb.metadata()["papermill"];
    pm["end_time"] = iso8601_now();
    pm["duration"] = seconds_between(run_started, clock_type::now());
    pm["exception"] = run_failure.has_value();
  }
  return {.nb = std::move(nb), .cells_executed = executed, .failure = std::move(run_failure)};
}

std::string notebook_kernel_name(const notebook& nb, const notebook_run_options& options) {
  std::string name = options.kernel.empty() ? nb.kernel_name() : options.kernel;
  return name.empty() ? "python3" : name;
}

kernel_start_options notebook_kernel_start(const notebook& nb, const notebook_run_options& options) {
  const std::string name = notebook_kernel_name(nb, options);
  kernel_start_options start{.kernel = name, .work_dir = options.work_dir, .startup_timeout = options.startup_timeout};
  start.ipython_reply_pause = options.ipython_reply_pause;
  // IPython kernels, named as jupyter_client recognises them (nbclient's rule for its history file).
  if (!options.ipython_history_file.empty() && (name == "python" || name == "python2" || name == "python3"))
    start.extra_arguments.push_back("--HistoryManager.hist_file=" + options.ipython_history_file);
  return start;
}

notebook_run_result run_notebook(notebook nb, const notebook_run_options& options) {
  auto session = kernel_session::start(notebook_kernel_start(nb, options));
  auto result = run_notebook(std::move(nb), kernel_of(session), options);
  session.shutdown();
  return result;
}

}  // namespace kernelgate
