// The notebook runner against a real ipykernel, compared cell by cell with nbclient's execution of
// the same notebooks (the notebooks/ folder doubles as end-to-end tests).
#include <doctest/doctest.h>

#include "gateway_server.hpp"
#include "kernelgate/error.hpp"
#include "kernelgate/gateway/gateway_session.hpp"
#include "kernelgate/notebook/notebook_runner.hpp"
#include "support.hpp"

#include <regex>
#include <thread>

namespace kg = kernelgate;
namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

const fs::path notebooks_dir = fs::path(KERNELGATE_SOURCE_DIR) / "notebooks";
const fs::path nbclient_script = fs::path(KERNELGATE_SOURCE_DIR) / "tests" / "integration" / "nbclient_run.py";

void require_jupyter() {
  kgtest::require_service(
      kgtest::run_command({kgtest::system_python(), "-c", "import nbclient, ipykernel"}, "", 60s).status == 0,
      "Debian's python3 with nbclient and ipykernel");
}

std::string normalise(std::string text) {
  static const std::regex address("0x[0-9a-fA-F]+");
  return std::regex_replace(text, address, "0x...");
}

// One comparable line per output: type, stream name or mime types, and the text that matters.
std::vector<std::string> describe_outputs(const json& cell) {
  std::vector<std::string> lines;
  json merged = json::array();
  for (const auto& out : cell["outputs"]) {
    // nbclient 0.7 keeps every stream message separate; kernelgate merges them as newer nbclient does.
    if (out["output_type"] == "stream" && !merged.empty() && merged.back()["output_type"] == "stream" &&
        merged.back()["name"] == out["name"]) {
      merged.back()["text"] = merged.back()["text"].get<std::string>() + out["text"].get<std::string>();
      continue;
    }
    merged.push_back(out);
  }
  for (const auto& out : merged) {
    const auto type = out["output_type"].get<std::string>();
    if (type == "stream") {
      lines.push_back("stream " + out["name"].get<std::string>() + ": " + normalise(out["text"].get<std::string>()));
    } else if (type == "error") {
      lines.push_back("error " + out["ename"].get<std::string>() + ": " + normalise(out["evalue"].get<std::string>()));
    } else {
      std::string mimes;
      for (const auto& [mime, value] : out["data"].items()) mimes += mime + " ";
      const auto plain = out["data"].value("text/plain", std::string());
      lines.push_back(type + " [" + mimes + "] " + normalise(plain) +
                      (type == "execute_result" ? " #" + out["execution_count"].dump() : ""));
    }
  }
  return lines;
}

kg::notebook run_with_nbclient(const fs::path& in, const fs::path& out, bool allow_errors = false) {
  std::vector<std::string> argv{kgtest::system_python(), nbclient_script.string(), in.string(), out.string()};
  if (allow_errors) argv.push_back("--allow-errors");
  const auto r = kgtest::run_command(argv, "", 5min);
  INFO("nbclient stderr: " << r.err);
  REQUIRE(fs::exists(out));
  return kg::notebook::read(out);
}

// A notebook of code cells with these sources, no kernelspec (run_notebook's default kernel).
void write_code_notebook(const fs::path& path, const std::vector<std::string>& sources) {
  json cells = json::array();
  for (const auto& source : sources)
    cells.push_back({{"cell_type", "code"}, {"execution_count", nullptr}, {"metadata", json::object()},
                     {"outputs", json::array()}, {"source", source}});
  kgtest::write_file(path, json{{"cells", cells}, {"metadata", json::object()}, {"nbformat", 4}, {"nbformat_minor", 4}}.dump());
}

void validate_with_nbformat(const fs::path& path) {
  const auto r = kgtest::run_command({kgtest::system_python(), "-c",
                                      "import sys, nbformat; nbformat.validate(nbformat.read(sys.argv[1], as_version=4))",
                                      path.string()},
                                     "", 2min);
  INFO("nbformat says: " << r.err);
  CHECK(r.status == 0);
}

void compare(const kg::notebook& ours, const kg::notebook& theirs) {
  REQUIRE(ours.cells().size() == theirs.cells().size());
  for (std::size_t i = 0; i < ours.cells().size(); ++i) {
    const auto& a = ours.cells()[i];
    const auto& b = theirs.cells()[i];
    INFO("cell " << i << ": " << a["source"].get<std::string>());
    CHECK(a["cell_type"] == b["cell_type"]);
    if (a["cell_type"] != "code") continue;
    CHECK(a["execution_count"] == b["execution_count"]);
    CHECK(describe_outputs(a) == describe_outputs(b));
    CHECK(a["metadata"].contains("execution") == b["metadata"].contains("execution"));
  }
}

}  // namespace

TEST_CASE("every notebook in notebooks/ runs like nbclient runs it") {
  require_jupyter();
  for (const char* name : {"quickstart.ipynb", "parameters.ipynb", "errors.ipynb", "rich_display.ipynb"}) {
    INFO("notebook " << name);
    kgtest::temp_dir dir;
    const auto input = notebooks_dir / name;
    const auto original = kgtest::read_file(input);
    auto result = kg::run_notebook(kg::notebook::read(input), {.work_dir = dir.path()});
    CHECK(result.ok());
    CHECK(result.cells_executed > 0);
    const auto ours = dir.path() / "kernelgate.ipynb";
    result.nb.write(ours);
    validate_with_nbformat(ours);
    // nbclient's kernel runs in its input's directory: a copy in the scratch directory, as ours.
    fs::copy_file(input, dir.path() / name);
    const auto theirs = run_with_nbclient(dir.path() / name, dir.path() / "nbclient.ipynb");
    compare(result.nb, theirs);
    CHECK(kgtest::read_file(input) == original);  // the input is never modified
  }
}

TEST_CASE("through a jupyter-server, every notebook in notebooks/ runs like nbclient runs it") {
  require_jupyter();
  kgtest::gateway_server server;
  for (const char* name : {"quickstart.ipynb", "parameters.ipynb", "errors.ipynb", "rich_display.ipynb"}) {
    INFO("notebook " << name);
    kgtest::temp_dir dir;
    auto session = kg::gateway_session::start({.gateway = {.url = server.url(), .token = server.token()}});
    auto result = kg::run_notebook(kg::notebook::read(notebooks_dir / name), kg::kernel_of(session), {});
    session.shutdown();
    CHECK(result.ok());
    fs::copy_file(notebooks_dir / name, dir.path() / name);
    compare(result.nb, run_with_nbclient(dir.path() / name, dir.path() / "nbclient.ipynb"));
  }
}

TEST_CASE("timing metadata, language_info and inline images are recorded") {
  require_jupyter();
  kgtest::temp_dir dir;
  auto result = kg::run_notebook(kg::notebook::read(notebooks_dir / "quickstart.ipynb"), {.work_dir = dir.path()});
  REQUIRE(result.ok());
  CHECK(result.nb.metadata()["language_info"]["name"] == "python");
  const auto& cells = result.nb.cells();
  const auto& first_code = cells[1];
  for (const char* key : {"iopub.status.busy", "iopub.execute_input", "shell.execute_reply", "iopub.status.idle"})
    CHECK(first_code["metadata"]["execution"].contains(key));
  bool png = false;
  for (const auto& cell : cells)
    if (cell["cell_type"] == "code")
      for (const auto& out : cell["outputs"])
        if (out.contains("data") && out["data"].contains("image/png")) png = true;
  CHECK(png);
}

TEST_CASE("an unexpected error stops the run with a report; allow_errors goes on") {
  require_jupyter();
  kgtest::temp_dir dir;
  const auto path = dir.path() / "fails.ipynb";
  kgtest::write_file(path, R"nb({"cells": [
    {"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": "x = 1"},
    {"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": "1 / 0"},
    {"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [],
     "source": "open('third-ran', 'w').close()\nprint(x + 1)"}],
    "metadata": {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}},
    "nbformat": 4, "nbformat_minor": 4})nb");

  auto stopped = kg::run_notebook(kg::notebook::read(path), {.work_dir = dir.path()});
  REQUIRE(stopped.failure);
  CHECK(stopped.failure->cell_index == 1);
  CHECK(stopped.failure->ename == "ZeroDivisionError");
  CHECK(stopped.cells_executed == 2);
  CHECK(stopped.nb.cells()[2]["outputs"].empty());
  CHECK_FALSE(fs::exists(dir.path() / "third-ran"));  // not even started in the kernel
  CHECK(stopped.nb.cells()[1]["outputs"][0]["output_type"] == "error");
  const auto theirs = run_with_nbclient(path, dir.path() / "theirs.ipynb");
  compare(stopped.nb, theirs);

  auto allowed = kg::run_notebook(kg::notebook::read(path), {.work_dir = dir.path(), .allow_errors = true});
  CHECK(allowed.ok());
  CHECK(allowed.cells_executed == 3);
  CHECK(allowed.nb.cells()[2]["outputs"][0]["text"] == "2\n");
  compare(allowed.nb, run_with_nbclient(path, dir.path() / "theirs-allowed.ipynb", true));
}

TEST_CASE("allow_error_names lets named errors pass; force_raise_errors overrides every allowance") {
  require_jupyter();
  kgtest::temp_dir dir;
  const auto path = dir.path() / "named.ipynb";
  kgtest::write_file(path, R"nb({"cells": [
    {"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": "{}['missing']"},
    {"cell_type": "code", "execution_count": null, "metadata": {"tags": ["raises-exception"]}, "outputs": [], "source": "1 / 0"},
    {"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": "int('x')"},
    {"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": "print('end')"}],
    "metadata": {}, "nbformat": 4, "nbformat_minor": 4})nb");

  auto named = kg::run_notebook(kg::notebook::read(path), {.work_dir = dir.path(), .allow_error_names = {"KeyError"}});
  REQUIRE(named.failure);
  CHECK(named.failure->cell_index == 2);  // KeyError allowed by name, ZeroDivisionError by the tag
  CHECK(named.failure->ename == "ValueError");
  CHECK(named.nb.cells()[3]["outputs"].empty());

  auto both = kg::run_notebook(kg::notebook::read(path),
                               {.work_dir = dir.path(), .allow_error_names = {"KeyError", "ValueError"}});
  CHECK(both.ok());
  CHECK(both.nb.cells()[3]["outputs"][0]["text"] == "end\n");

  auto forced = kg::run_notebook(kg::notebook::read(path), {.work_dir = dir.path(),
                                                            .allow_errors = true,
                                                            .allow_error_names = {"KeyError"},
                                                            .force_raise_errors = true});
  REQUIRE(forced.failure);
  CHECK(forced.failure->cell_index == 0);
  CHECK(forced.cells_executed == 1);
}

TEST_CASE("with the next cell sent on each reply, every output lands in its own cell, in order") {
  require_jupyter();
  kgtest::temp_dir dir;
  std::vector<std::string> sources;
  for (int i = 0; i < 60; ++i) {
    switch (i % 3) {
      case 0: sources.push_back("print('stdout', " + std::to_string(i) + ")"); break;
      case 1:
        sources.push_back("import sys; print('stderr', " + std::to_string(i) + ", file=sys.stderr)\n" + std::to_string(i));
        break;
      default: sources.push_back("from IPython.display import display; display(" + std::to_string(i) + ")"); break;
    }
  }
  const auto path = dir.path() / "many.ipynb";
  write_code_notebook(path, sources);
  std::string events;
  auto result = kg::run_notebook(kg::notebook::read(path),
                                 {.work_dir = dir.path(), .on_cell = [&](const kg::cell_event& e) {
                                    events += (e.when == kg::cell_event::phase::started ? "s" : "f") +
                                              std::to_string(e.cell_index) + " ";
                                    // A slow progress callback: the next cell, already sent, runs to
                                    // its end before it becomes the active one, so its messages must
                                    // be held back and replayed into the right cell.
                                    if (e.when == kg::cell_event::phase::finished && e.cell_index % 2 == 0)
                                      std::this_thread::sleep_for(30ms);
                                  }});
  REQUIRE(result.ok());
  std::string expected_events;
  for (int i = 0; i < 60; ++i) {
    const auto& outputs = result.nb.cells()[i]["outputs"];
    INFO("cell " << i << ": " << outputs.dump());
    CHECK(result.nb.cells()[i]["execution_count"] == i + 1);
    const auto n = std::to_string(i);
    switch (i % 3) {
      case 0:
        REQUIRE(outputs.size() == 1);
        CHECK(outputs[0]["text"] == "stdout " + n + "\n");
        break;
      case 1:
        REQUIRE(outputs.size() == 2);
        CHECK(outputs[0]["text"] == "stderr " + n + "\n");
        CHECK(outputs[1]["data"]["text/plain"] == n);
        CHECK(outputs[1]["execution_count"] == i + 1);
        break;
      default:
        REQUIRE(outputs.size() == 1);
        CHECK(outputs[0]["data"]["text/plain"] == n);
    }
    expected_events += "s" + n + " f" + n + " ";
  }
  CHECK(events == expected_events);  // progress reports one cell at a time
}

TEST_CASE("an IPython kernel started for a run has ipykernel's reply pause off unless asked to keep it") {
  // The test above runs without the pause (the default), where an execute_reply often overtakes the
  // cell's last output; this one checks the setting reaches the kernel.
  require_jupyter();
  kgtest::temp_dir dir;
  const auto path = dir.path() / "pause.ipynb";
  write_code_notebook(path, {"get_ipython().kernel._execute_sleep"});
  const auto pause_seen = [&](bool keep) {
    kg::notebook_run_options options{.work_dir = dir.path()};
    options.ipython_reply_pause = keep;
    const auto result = kg::run_notebook(kg::notebook::read(path), options);
    REQUIRE(result.ok());
    const auto& outputs = result.nb.cells()[0]["outputs"];
    REQUIRE(outputs.size() == 1);
    return outputs[0]["data"]["text/plain"].get<std::string>();
  };
  CHECK(pause_seen(false) == "0.0");
  CHECK(pause_seen(true) == "0.0005");  // ipykernel 6.17's default

  const auto start = kg::notebook_kernel_start(kg::notebook::read(path), {.kernel = "python3"});
  CHECK(start.kernel == "python3");
  CHECK(start.extra_arguments == std::vector<std::string>{"--HistoryManager.hist_file=:memory:"});
  CHECK_FALSE(start.ipython_reply_pause);
  // Other kernels get no IPython options.
  CHECK(kg::notebook_kernel_start(kg::notebook::read(path), {.kernel = "ir"}).extra_arguments.empty());
}

TEST_CASE("papermill's metadata: every cell pending until it runs, then its times and outcome") {
  require_jupyter();
  kgtest::temp_dir dir;
  const auto path = dir.path() / "papermill.ipynb";
  kgtest::write_file(path, R"nb({"cells": [
    {"cell_type": "markdown", "metadata": {}, "source": "# notes"},
    {"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": "import time\ntime.sleep(0.2)"},
    {"cell_type": "code", "execution_count": null, "metadata": {"tags": ["raises-exception"]}, "outputs": [], "source": "1 / 0"},
    {"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": "undefined_name"},
    {"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": "print('never')"}],
    "metadata": {}, "nbformat": 4, "nbformat_minor": 4})nb");
  auto result = kg::run_notebook(kg::notebook::read(path), {.work_dir = dir.path(), .record_papermill_metadata = true});
  REQUIRE(result.failure);
  CHECK(result.failure->cell_index == 3);
  const auto& cells = result.nb.cells();
  const auto pm = [&](std::size_t i) { return cells[i]["metadata"]["papermill"]; };
  CHECK(pm(0)["status"] == "pending");  // not code: never runs
  CHECK(pm(1)["status"] == "completed");
  CHECK(pm(1)["exception"] == false);
  CHECK(pm(1)["duration"].get<double>() >= 0.2);
  CHECK(pm(1)["start_time"].get<std::string>() <= pm(1)["end_time"].get<std::string>());
  CHECK(pm(2)["status"] == "completed");  // an expected error
  CHECK(pm(3)["status"] == "failed");
  CHECK(pm(3)["exception"] == true);
  CHECK(pm(4)["status"] == "pending");
  CHECK(pm(4)["start_time"].is_null());
  const auto& run = result.nb.metadata()["papermill"];
  CHECK(run["exception"] == true);
  CHECK(run["duration"].get<double>() >= pm(1)["duration"].get<double>());
  const auto out = dir.path() / "out.ipynb";
  result.nb.write(out);
  validate_with_nbformat(out);

  // Off by default, as in nbclient.
  auto plain = kg::run_notebook(kg::notebook::read(path), {.work_dir = dir.path(), .allow_errors = true});
  CHECK_FALSE(plain.nb.cells()[1]["metadata"].contains("papermill"));
  CHECK_FALSE(plain.nb.metadata().contains("papermill"));
}

TEST_CASE("a cell past its timeout is interrupted; the run stops or goes on as asked") {
  require_jupyter();
  kgtest::temp_dir dir;
  const auto path = dir.path() / "slow.ipynb";
  kgtest::write_file(path, R"nb({"cells": [
    {"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": "state = 'kept'"},
    {"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [],
     "source": "import time\nprint('before', flush=True)\ntime.sleep(600)"},
    {"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": "print(state)"}],
    "metadata": {}, "nbformat": 4, "nbformat_minor": 4})nb");

  auto stopped = kg::run_notebook(kg::notebook::read(path), {.work_dir = dir.path(), .cell_timeout = 2s});
  REQUIRE(stopped.failure);
  CHECK(stopped.failure->timed_out);
  CHECK(stopped.failure->cell_index == 1);
  CHECK(stopped.nb.cells()[1]["outputs"][0]["text"] == "before\n");

  auto going_on = kg::run_notebook(kg::notebook::read(path),
                                   {.work_dir = dir.path(), .cell_timeout = 2s,
                                    .on_timeout = kg::cell_timeout_action::interrupt_and_continue});
  CHECK(going_on.ok());
  CHECK(going_on.cells_executed == 3);
  const auto& interrupted = going_on.nb.cells()[1]["outputs"];
  REQUIRE(interrupted.size() >= 2);
  CHECK(interrupted.back()["ename"] == "KeyboardInterrupt");
  CHECK(going_on.nb.cells()[2]["outputs"][0]["text"] == "kept\n");  // state survived the interrupt
}

TEST_CASE("parameters are injected after the parameters cell and used") {
  require_jupyter();
  kgtest::temp_dir dir;
  std::vector<std::string> events;
  auto result = kg::run_notebook(
      kg::notebook::read(notebooks_dir / "parameters.ipynb"),
      {.work_dir = dir.path(),
       .parameters = {{"greeting", "hi"}, {"repeat", 3}, {"shout", true}},
       .on_cell = [&](const kg::cell_event& e) {
         if (e.when == kg::cell_event::phase::finished)
           events.push_back(std::to_string(e.code_number) + "/" + std::to_string(e.code_total) + " " + e.status);
       }});
  REQUIRE(result.ok());
  const auto& cells = result.nb.cells();
  REQUIRE(cells.size() == 5);
  CHECK(kg::cell_has_tag(cells[2], "injected-parameters"));
  CHECK(cells[3]["outputs"][0]["text"] == "HI HI HI\n");
  CHECK(cells[4]["outputs"][0]["data"]["text/plain"] == "30");
  CHECK(events == std::vector<std::string>{"1/4 ok", "2/4 ok", "3/4 ok", "4/4 ok"});
}

TEST_CASE("a kernel that dies mid-run ends the run with a clear failure and the outputs so far") {
  require_jupyter();
  kgtest::temp_dir dir;
  const auto path = dir.path() / "dies.ipynb";
  kgtest::write_file(path, R"nb({"cells": [
    {"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": "print('alive', flush=True)"},
    {"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [],
     "source": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"},
    {"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": "print('never')"}],
    "metadata": {}, "nbformat": 4, "nbformat_minor": 4})nb");
  auto result = kg::run_notebook(kg::notebook::read(path), {.work_dir = dir.path()});
  REQUIRE(result.failure);
  CHECK(result.failure->kernel_died);
  CHECK(result.failure->cell_index == 1);
  CHECK(result.nb.cells()[0]["outputs"][0]["text"] == "alive\n");
}
