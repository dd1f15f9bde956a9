// One notebook of 200 small code cells executed by kernelgate's run_notebook and by nbclient 0.7.2
// (bench/peer_notebook.py, a long-lived /usr/bin/python3 process that has imported nbclient), side
// by side in one run. Both read the same .ipynb file and run their kernels in the same directory.
// Rounds alternate which side goes first, so drift hits both alike.
//
// Measurements per round:
//  - whole: read the file, then the one-call API (run_notebook(nb, options) /
//    NotebookClient(nb).execute()): kernel start, kernel_info, every cell, kernel shutdown. run_notebook
//    reuses the kernel_info_reply its start-up waited for; nbclient asks again;
//  - whole, same kernel command: ours again with notebook_run_options::ipython_reply_pause (below);
//  - phased: the same steps with clocks between them, giving the execution part alone (kernel
//    already started and ready: kernel_info and the 200 cells, both sides asking for kernel_info)
//    plus start and shutdown. Ours starts the kernel run_notebook starts (notebook_kernel_start).
//
// The kernel commands: nbclient adds --HistoryManager.hist_file=:memory: for IPython kernels (its
// ipython_hist_file default), and so does run_notebook (ipython_history_file). run_notebook also
// turns off ipykernel's 0.5 ms pause before each execute_reply (--Kernel._execute_sleep=0), which
// only helps clients that stop reading outputs at the reply; nbclient keeps it. The "same kernel
// command" run keeps it too, so that it compares the clients alone.
// The per-cell figures come from the kernel's own clock (its status busy and idle header dates):
// "busy" is the kernel's work on a cell, "turnaround" the time from one cell's idle to the next
// one's busy, which is the client's share of the run.
// Prints one JSON line per metric with medians (seconds); the machine's load average goes to stderr.
//
// usage: bench_notebook [ROUNDS=5] [CELLS=200]
#include "kernelgate/error.hpp"
#include "kernelgate/kernel/kernel_session.hpp"
#include "kernelgate/notebook/notebook.hpp"
#include "kernelgate/notebook/notebook_runner.hpp"

#include "bench_support.hpp"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace kg = kernelgate;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

using namespace kgbench;

constexpr const char* peer_name = "nbclient 0.7.2";

// Deterministic small cells: an assignment, a print (stream output), an expression (execute_result)
// and a two-line cell ending in an expression, in turn. A markdown cell on top, as notebooks have.
kg::notebook make_notebook(int cells) {
  json nb = {{"nbformat", 4},
             {"nbformat_minor", 5},
             {"metadata",
              {{"kernelspec", {{"name", "python3"}, {"display_name", "Python 3"}, {"language", "python"}}}}},
             {"cells", json::array()}};
  nb["cells"].push_back(
      {{"cell_type", "markdown"}, {"id", "intro"}, {"metadata", json::object()}, {"source", "# " + std::to_string(cells) + " small cells"}});
  for (int i = 0; i < cells; ++i) {
    std::string source;
    switch (i % 4) {
      case 0: source = "x = " + std::to_string(i); break;
      case 1: source = "print('cell " + std::to_string(i) + ":', x * 2)"; break;
      case 2: source = "x + " + std::to_string(i); break;
      default: source = "y = [k * k for k in range(10)]\nsum(y) + x"; break;
    }
    nb["cells"].push_back({{"cell_type", "code"},
                           {"id", "c" + std::to_string(i)},
                           {"metadata", json::object()},
                           {"execution_count", nullptr},
                           {"outputs", json::array()},
                           {"source", source}});
  }
  return kg::notebook::parse(nb.dump(), "generated benchmark notebook");
}

// What both sides must agree on, so that they did the same work. Stream text is compared by length,
// not by output count: the kernel may split one print into several stream messages, which
// run_notebook merges and nbclient 0.7.2 keeps apart.
struct run_shape {
  long cells = 0, results = 0, stream_chars = 0;
  bool operator==(const run_shape&) const = default;
};

run_shape shape_of(const kg::notebook_run_result& r) {
  if (!r.ok()) throw std::runtime_error("kernelgate run failed at cell " + std::to_string(r.failure->cell_index) + ": " +
                                        r.failure->ename + ": " + r.failure->evalue);
  run_shape s;
  for (const auto& cell : r.nb.cells()) {
    if (cell.at("cell_type") != "code") continue;
    if (!cell.at("execution_count").is_null()) ++s.cells;
    for (const auto& output : cell.at("outputs")) {
      if (output.at("output_type") == "execute_result") ++s.results;
      else if (output.at("output_type") == "stream")
        s.stream_chars += static_cast<long>(output.at("text").get_ref<const std::string&>().size());
    }
  }
  return s;
}

// A timing stamp (the kernel's header date, e.g. 2026-11-28T17:20:59.123456Z) as seconds since
// midnight: only differences within one run are used.
double kernel_clock(const std::string& stamp) {
  const auto t = stamp.find('T');
  if (t == std::string::npos || stamp.size() < t + 9) throw std::runtime_error("not an ISO 8601 time: " + stamp);
  return std::stoi(stamp.substr(t + 1, 2)) * 3600.0 + std::stoi(stamp.substr(t + 4, 2)) * 60.0 + std::stod(stamp.substr(t + 7));
}

// From the kernel's own clock, per code cell in order (as peer_notebook.py's per_cell_timing):
// busy = its busy to its idle status; gap = the idle of one cell to the busy of the next, which is
// the client's turnaround (taking in the end of a cell, sending the next request, the kernel
// receiving it).
struct cell_timing {
  std::vector<double> busy_ms, gap_ms;
};

cell_timing timing_of(const kg::notebook& nb) {
  std::vector<std::pair<double, double>> spans;
  for (const auto& cell : nb.cells()) {
    if (cell.at("cell_type") != "code" || !cell.at("metadata").contains("execution")) continue;
    const auto& execution = cell.at("metadata").at("execution");
    if (!execution.contains("iopub.status.busy") || !execution.contains("iopub.status.idle")) continue;
    spans.emplace_back(kernel_clock(execution.at("iopub.status.busy")), kernel_clock(execution.at("iopub.status.idle")));
  }
  cell_timing t;
  for (std::size_t i = 0; i < spans.size(); ++i) {
    t.busy_ms.push_back((spans[i].second - spans[i].first) * 1000);
    if (i + 1 < spans.size()) t.gap_ms.push_back((spans[i + 1].first - spans[i].second) * 1000);
  }
  return t;
}

struct phases {
  double start = 0, execute = 0, shutdown = 0, total = 0;
  double execute_cpu = 0;  // this process's CPU time during `execute`
  run_shape shape;
  cell_timing cells;
};


struct whole_run {
  double total = 0;
  run_shape shape;
  cell_timing cells;
};

whole_run ours_whole(const fs::path& file, const fs::path& work, bool reply_pause) {
  const auto t0 = clock_type::now();
  kg::notebook_run_options options{.kernel = "python3", .work_dir = work};
  options.ipython_reply_pause = reply_pause;
  auto result = kg::run_notebook(kg::notebook::read(file), options);
  whole_run w{.total = seconds_since(t0)};
  w.shape = shape_of(result);
  w.cells = timing_of(result.nb);
  return w;
}

phases ours_phased(const fs::path& file, const fs::path& work) {
  phases p;
  const auto t0 = clock_type::now();
  auto nb = kg::notebook::read(file);
  auto session = kg::kernel_session::start(kg::notebook_kernel_start(nb, {.kernel = "python3", .work_dir = work}));
  const auto t1 = clock_type::now();
  const double cpu1 = cpu_seconds();
  // No kernel_info_reply handed over: the execute phase asks for it, as nbclient's does.
  auto result = kg::run_notebook(std::move(nb),
                                 kg::notebook_kernel{.client = session.client(),
                                                     .interrupt = [&session] { session.interrupt(); }},
                                 kg::notebook_run_options{});
  const auto t2 = clock_type::now();
  p.execute_cpu = cpu_seconds() - cpu1;
  session.shutdown();
  const auto t3 = clock_type::now();
  using sec = std::chrono::duration<double>;
  p.start = sec(t1 - t0).count();
  p.execute = sec(t2 - t1).count();
  p.shutdown = sec(t3 - t2).count();
  p.total = sec(t3 - t0).count();
  p.shape = shape_of(result);
  p.cells = timing_of(result.nb);
  return p;
}

run_shape peer_shape(const json& answer) {
  return {.cells = answer.at("cells").get<long>(), .results = answer.at("results").get<long>(),
          .stream_chars = answer.at("stream_chars").get<long>()};
}

std::string describe(const run_shape& s) {
  return std::to_string(s.cells) + " cells, " + std::to_string(s.results) + " execute_results, " +
         std::to_string(s.stream_chars) + " characters of stream text";
}

void check_same_work(const run_shape& ours, const run_shape& peer) {
  if (ours == peer) return;
  throw std::runtime_error("the two runs differ: kernelgate " + describe(ours) + "; nbclient " + describe(peer));
}

void append(std::vector<double>& to, const std::vector<double>& from) { to.insert(to.end(), from.begin(), from.end()); }

std::vector<double> numbers(const json& list) { return list.get<std::vector<double>>(); }

struct series {
  std::vector<double> whole, whole_same_command, phased_total, start, execute, shutdown, execute_cpu;
  cell_timing whole_cells, cells;  // every cell of every counted round: whole runs, phased runs
};

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 5;
  const int cells = argc > 2 ? std::atoi(argv[2]) : 200;
  if (rounds < 1 || cells < 4) {
    std::cerr << "usage: bench_notebook [ROUNDS>=1] [CELLS>=4]\n";
    return 2;
  }
  const fs::path script = fs::path(__FILE__).parent_path() / "peer_notebook.py";
  const fs::path work = fs::temp_directory_path() / ("kernelgate-bench-notebook-" + std::to_string(getpid()));
  fs::create_directories(work);
  const fs::path file = work / "bench.ipynb";
  std::signal(SIGPIPE, SIG_IGN);  // a peer that died is reported by the failing write, not by a signal
  int status = 0;
  try {
    make_notebook(cells).write(file);
    std::cerr << "bench_notebook: " << cells << " cells, " << rounds << " rounds (+1 warm-up); load average "
              << load_average() << '\n';
    peer_process peer({.argv = {"/usr/bin/python3", script.string()}, .cwd = work});
    series ours, theirs;
    const std::string whole_request = json{{"mode", "whole"}, {"path", file.string()}}.dump();
    const std::string phased_request = json{{"mode", "phased"}, {"path", file.string()}}.dump();
    for (int round = 0; round <= rounds; ++round) {
      const bool warm_up = round == 0;
      // Alternate who goes first.
      whole_run our_whole;
      json peer_whole;
      whole_run our_same_command;
      if (round % 2 == 0) {
        our_whole = ours_whole(file, work, false);
        our_same_command = ours_whole(file, work, true);
        peer_whole = peer.ask(whole_request);
      } else {
        peer_whole = peer.ask(whole_request);
        our_same_command = ours_whole(file, work, true);
        our_whole = ours_whole(file, work, false);
      }
      check_same_work(our_whole.shape, peer_shape(peer_whole));
      check_same_work(our_same_command.shape, peer_shape(peer_whole));
      phases our_phases;
      json peer_phases;
      if (round % 2 == 0) {
        peer_phases = peer.ask(phased_request);
        our_phases = ours_phased(file, work);
      } else {
        our_phases = ours_phased(file, work);
        peer_phases = peer.ask(phased_request);
      }
      check_same_work(our_phases.shape, peer_shape(peer_phases));
      std::cerr << (warm_up ? "warm-up" : "round " + std::to_string(round)) << ": whole " << our_whole.total << " s (same kernel command "
                << our_same_command.total << " s) vs " << peer_whole.at("total").get<double>() << " s; execute " << our_phases.execute << " s vs "
                << peer_phases.at("execute").get<double>() << " s\n";
      if (warm_up) continue;
      ours.whole.push_back(our_whole.total);
      ours.whole_same_command.push_back(our_same_command.total);
      theirs.whole.push_back(peer_whole.at("total").get<double>());
      append(ours.whole_cells.busy_ms, our_whole.cells.busy_ms);
      append(theirs.whole_cells.busy_ms, numbers(peer_whole.at("busy_ms")));
      ours.phased_total.push_back(our_phases.total);
      theirs.phased_total.push_back(peer_phases.at("total").get<double>());
      ours.start.push_back(our_phases.start);
      theirs.start.push_back(peer_phases.at("start").get<double>());
      ours.execute.push_back(our_phases.execute);
      theirs.execute.push_back(peer_phases.at("execute").get<double>());
      ours.shutdown.push_back(our_phases.shutdown);
      theirs.shutdown.push_back(peer_phases.at("shutdown").get<double>());
      ours.execute_cpu.push_back(our_phases.execute_cpu);
      theirs.execute_cpu.push_back(peer_phases.at("execute_cpu").get<double>());
      append(ours.cells.busy_ms, our_phases.cells.busy_ms);
      append(ours.cells.gap_ms, our_phases.cells.gap_ms);
      append(theirs.cells.busy_ms, numbers(peer_phases.at("busy_ms")));
      append(theirs.cells.gap_ms, numbers(peer_phases.at("gap_ms")));
    }
    const std::string prefix = "notebook_" + std::to_string(cells) + "_cells_";
    // The target: the one-call API on both sides.
    print_median(prefix + "whole_run", ours.whole, theirs.whole, peer_name, "s");
    print_median("notebook_cell_kernel_busy_whole_run", ours.whole_cells.busy_ms, theirs.whole_cells.busy_ms, peer_name, "ms");
    // The clients alone: both kernels keep ipykernel's reply pause.
    print_median(prefix + "whole_run_same_kernel_command", ours.whole_same_command, theirs.whole, peer_name, "s");
    // The phased run end to end (start, execute, shutdown with clocks between them).
    print_median(prefix + "phased_run", ours.phased_total, theirs.phased_total, peer_name, "s");
    print_median(prefix + "execute_on_started_kernel", ours.execute, theirs.execute, peer_name, "s");
    print_median(prefix + "execute_client_cpu", ours.execute_cpu, theirs.execute_cpu, peer_name, "s");
    print_median(prefix + "kernel_start", ours.start, theirs.start, peer_name, "s");
    print_median(prefix + "kernel_shutdown", ours.shutdown, theirs.shutdown, peer_name, "s");
    // Where the execution time goes, per cell, on the kernel's clock.
    print_median("notebook_cell_kernel_busy", ours.cells.busy_ms, theirs.cells.busy_ms, peer_name, "ms");
    print_median_and_p99("notebook_cell_client_turnaround", ours.cells.gap_ms, theirs.cells.gap_ms, peer_name, "ms");
    std::cerr << "bench_notebook: load average at the end " << load_average() << '\n';
  } catch (const std::exception& e) {
    std::cerr << "bench_notebook: " << e.what() << '\n';
    status = 1;
  }
  std::error_code ec;
  fs::remove_all(work, ec);
  return status;
}
