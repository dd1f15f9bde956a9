#include "cli/notebook_command.hpp"

#include "cli/interrupt.hpp"
#include "kernelgate/gateway/gateway_client.hpp"
#include "kernelgate/gateway/gateway_session.hpp"
#include "kernelgate/notebook/notebook_runner.hpp"

#include <unistd.h>

#include <cstdio>
#include <iostream>

namespace kernelgate::cli {

namespace {

namespace fs = std::filesystem;

fs::path output_path(const options& opts, const fs::path& input) {
  if (opts.inplace) return input;
  if (!opts.output.empty()) return opts.output;
  return input.parent_path() / (input.stem().string() + ".executed.ipynb");
}

std::string seconds(std::chrono::milliseconds ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms.count()) / 1000.0);
  return buf;
}

}  // namespace

int notebook_run(const options& opts) {
  const fs::path input = opts.files.front();
  auto nb = notebook::read(input);
  parameter_list parameters;
  for (const auto& [name, value] : opts.parameters) parameters.emplace_back(name, parse_parameter_value(value));
  if (opts.prepare_only) {
    // papermill's --prepare-only: the parameters injected, nothing executed, no kernel started.
    inject_parameters(nb, parameters);
    const fs::path output = output_path(opts, input);
    nb.write(output);
    std::cout << "wrote " << output.string() << "\n";
    return 0;
  }
  // Ctrl-C from here on stops the run (the watcher must exist before the kernel's threads start).
  interrupt_watcher interrupts;
  const fs::path output = output_path(opts, input);

  notebook_run_options ro;
  ro.kernel = opts.kernel;
  ro.work_dir = !opts.work_dir.empty() ? opts.work_dir : fs::absolute(input).parent_path();
  ro.cell_timeout = opts.timeout;
  ro.on_timeout = opts.keep_going ? cell_timeout_action::interrupt_and_continue : cell_timeout_action::stop;
  ro.allow_errors = opts.allow_errors;
  ro.record_papermill_metadata = opts.papermill_metadata;
  ro.parameters = std::move(parameters);
  ro.stop = interrupts.token();
  const bool terminal = ::isatty(STDERR_FILENO) == 1;
  ro.on_cell = [terminal](const cell_event& e) {
    if (!terminal) return;
    if (e.when == cell_event::phase::started) {
      std::cerr << "\r\033[K[" << e.code_number << "/" << e.code_total << "] cell " << e.cell_index << " running"
                << std::flush;
    } else {
      std::cerr << "\r\033[K[" << e.code_number << "/" << e.code_total << "] cell " << e.cell_index << " "
                << e.status << " in " << seconds(e.elapsed) << "\n";
    }
  };

  const auto started = std::chrono::steady_clock::now();
  auto result = [&] {
    if (opts.gateway.empty()) return run_notebook(std::move(nb), ro);
    // A kernel of the gateway; the notebook's own kernelspec name unless -k says otherwise.
    auto session =
        gateway_session::start({.gateway = gateway_options_of(opts), .kernel = notebook_kernel_name(nb, ro)});
    auto r = run_notebook(std::move(nb), kernel_of(session), ro);
    session.shutdown();
    return r;
  }();
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);

  if (result.failure && result.failure->cancelled) {
    std::cerr << "kernelgate: stopped after " << result.cells_executed << " cells; " << output.string()
              << " was not written\n";
    return 130;
  }
  if (opts.papermill_metadata) {
    auto& pm = result.nb.metadata()["papermill"];
    pm["input_path"] = input.string();
    pm["output_path"] = output.string();
  }
  result.nb.write(output);
  if (!result.failure) {
    std::cerr << "kernelgate: ran " << result.cells_executed << " code cells of " << input.string() << " in "
              << seconds(elapsed) << "\n";
    std::cout << "wrote " << output.string() << "\n";
    return 0;
  }
  const auto& f = *result.failure;
  std::cerr << "kernelgate: cell " << f.cell_index << " of " << input.string()
            << (f.timed_out ? " timed out" : f.kernel_died ? ": the kernel died" : " raised") << ": " << f.ename
            << (f.evalue.empty() ? "" : ": " + f.evalue) << "\n"
            << "kernelgate: ran " << result.cells_executed << " code cells in " << seconds(elapsed)
            << "; the partially executed notebook is in " << output.string() << "\n";
  std::cout << "wrote " << output.string() << "\n";
  return 1;
}

}  // namespace kernelgate::cli
