// The `kernelgate` command with kernels: exec in one kernel session, kernelspecs, notebook run.
#include <doctest/doctest.h>

#include "gateway_server.hpp"
#include "ipykernel_support.hpp"
#include "kernelgate/notebook/notebook.hpp"
#include "support.hpp"

#include <signal.h>
#include <unistd.h>

namespace kg = kernelgate;
namespace kd = kernelgate::detail;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

kgtest::command_result cli(std::vector<std::string> args, const std::string& input = "") {
  args.insert(args.begin(), KERNELGATE_CLI_PATH);
  return kgtest::run_command(args, input, 5min);
}

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

const char* const failing_notebook = R"nb({"cells": [
  {"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": "print('one')"},
  {"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": "raise ValueError('bad value')"},
  {"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": "print('three')"}],
  "metadata": {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}},
  "nbformat": 4, "nbformat_minor": 5})nb";

}  // namespace

TEST_CASE("exec runs every -c block in one kernel session by default") {
  kgtest::require_ipykernel();
  const auto r = cli({"exec", "-c", "x = 41", "-c", "print(x + 1)"});
  CHECK(r.status == 0);
  CHECK(r.out == "42\n");
  const auto named = cli({"exec", "-k", "python3", "--json", "-c", "import sys; print(sys.version_info[0])"});
  CHECK(named.status == 0);
  const auto j = nlohmann::json::parse(named.out);
  CHECK(j["exit_code"] == 0);
  CHECK(j["output"] == "3\n");
}

TEST_CASE("a missing kernelspec is a clear error with status 2") {
  const auto r = cli({"exec", "-k", "kernelgate-no-such-kernel", "-c", "1"});
  CHECK(r.status == 2);
  CHECK(contains(r.err, "kernelgate-no-such-kernel"));
}

TEST_CASE("kernelspecs lists the python3 kernel") {
  kgtest::require_ipykernel();
  const auto r = cli({"kernelspecs"});
  CHECK(r.status == 0);
  CHECK(contains(r.out, "python3"));
  const auto j = nlohmann::json::parse(cli({"kernelspecs", "--json"}).out);
  bool found = false;
  for (const auto& s : j["kernelspecs"]) found = found || s["name"] == "python3";
  CHECK(found);
}

TEST_CASE("notebook run writes the executed copy, injects parameters and says where it is") {
  kgtest::require_ipykernel();
  kgtest::temp_dir dir;
  const auto input = fs::path(KERNELGATE_SOURCE_DIR) / "notebooks" / "parameters.ipynb";
  const auto out = dir.path() / "out.ipynb";
  const auto r = cli({"notebook", "run", input.string(), "-o", out.string(), "-p", "greeting", "hey", "-p",
                      "repeat", "2", "--work-dir", dir.path().string()});
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(contains(r.out, out.string()));
  const auto nb = kg::notebook::read(out);
  CHECK(nb.cells().size() == 5);
  CHECK(nb.cells()[3]["outputs"][0]["text"] == "hey hey\n");
}

TEST_CASE("notebook run --prepare-only injects the parameters and runs nothing") {
  kgtest::temp_dir dir;
  const auto input = fs::path(KERNELGATE_SOURCE_DIR) / "notebooks" / "parameters.ipynb";
  const auto out = dir.path() / "prepared.ipynb";
  const auto r = cli({"notebook", "run", input.string(), "--prepare-only", "-o", out.string(), "-p", "repeat", "4"});
  INFO(r.err);
  CHECK(r.status == 0);
  const auto nb = kg::notebook::read(out);
  REQUIRE(nb.cells().size() == 5);
  CHECK(kg::cell_has_tag(nb.cells()[2], "injected-parameters"));
  CHECK(nb.cells()[2]["source"].get<std::string>().find("repeat = 4") != std::string::npos);
  for (const auto& cell : nb.cells()) {
    if (cell["cell_type"] != "code") continue;
    CHECK(cell["outputs"].empty());
    CHECK(cell["execution_count"].is_null());
  }
}

TEST_CASE("notebook run: a cell error exits 1 and still writes the partial notebook; allow-errors goes on") {
  kgtest::require_ipykernel();
  kgtest::temp_dir dir;
  const auto input = dir.path() / "fails.ipynb";
  kgtest::write_file(input, failing_notebook);
  auto r = cli({"notebook", "run", input.string(), "--papermill-metadata"});
  CHECK(r.status == 1);
  CHECK(contains(r.err, "ValueError"));
  CHECK(contains(r.err, "cell 1"));
  const auto partial = kg::notebook::read(dir.path() / "fails.executed.ipynb");
  CHECK(partial.cells()[0]["outputs"][0]["text"] == "one\n");
  CHECK(partial.cells()[2]["outputs"].empty());
  // papermill's record: who ran, who failed, who never ran, and where the run came from and went.
  CHECK(partial.cells()[0]["metadata"]["papermill"]["status"] == "completed");
  CHECK(partial.cells()[1]["metadata"]["papermill"]["status"] == "failed");
  CHECK(partial.cells()[2]["metadata"]["papermill"]["status"] == "pending");
  CHECK(partial.metadata()["papermill"]["exception"] == true);
  CHECK(partial.metadata()["papermill"]["input_path"] == input.string());
  CHECK(partial.metadata()["papermill"]["output_path"] == (dir.path() / "fails.executed.ipynb").string());
  CHECK(kgtest::read_file(input) == failing_notebook);  // the input is not touched

  r = cli({"notebook", "run", input.string(), "--allow-errors", "-o", (dir.path() / "all.ipynb").string()});
  CHECK(r.status == 0);
  CHECK(kg::notebook::read(dir.path() / "all.ipynb").cells()[2]["outputs"][0]["text"] == "three\n");
}

TEST_CASE("notebook run: malformed input is status 2 naming the file") {
  kgtest::temp_dir dir;
  const auto input = dir.path() / "broken.ipynb";
  kgtest::write_file(input, "{\"cells\": [");
  const auto r = cli({"notebook", "run", input.string()});
  CHECK(r.status == 2);
  CHECK(contains(r.err, "broken.ipynb"));
  CHECK(!fs::exists(dir.path() / "broken.executed.ipynb"));
  CHECK(cli({"notebook", "run"}).status == 2);
  CHECK(cli({"notebook", "run", input.string(), "--inplace", "-o", "x.ipynb"}).status == 2);
}

TEST_CASE("an interrupted notebook run exits 130 and leaves the earlier output file as it was") {
  kgtest::require_ipykernel();
  kgtest::temp_dir dir;
  const auto input = dir.path() / "slow.ipynb";
  kgtest::write_file(input, R"nb({"cells": [
    {"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [],
     "source": "import time\nprint('started', flush=True)\ntime.sleep(600)"}],
    "metadata": {}, "nbformat": 4, "nbformat_minor": 4})nb");
  const auto out = dir.path() / "slow.out.ipynb";
  const std::string earlier = "an earlier run's output\n";
  kgtest::write_file(out, earlier);
  // Progress lines go to terminals only; the sign that the run is under way is the kernel process
  // the command started.
  auto child = kd::child_process::spawn(
      {.argv = {KERNELGATE_CLI_PATH, "notebook", "run", input.string(), "-o", out.string(), "--work-dir",
                dir.path().string()},
       .err = kd::stdio::pipe});
  bool running = false;
  for (int i = 0; i < 600 && !running; ++i) {
    const auto r = kgtest::run_command({"pgrep", "-P", std::to_string(child.pid()), "-f", "ipykernel"}, "", 10s);
    running = r.status == 0;
    if (!running) (void)kd::wait_readable(child.exit_fd(), 100ms);
  }
  REQUIRE(running);
  (void)kd::wait_readable(child.exit_fd(), 1s);  // let the cell start
  child.signal(SIGINT);
  CHECK(child.wait_for(120s) == 130);
  CHECK(kgtest::read_file(out) == earlier);
}

TEST_CASE("--gateway: exec, kernelspecs and notebook run through a jupyter-server; a wrong token is refused") {
  kgtest::require_ipykernel();
  kgtest::gateway_server server;
  const std::vector<std::string> gw{"--gateway", server.url(), "--token", server.token()};
  const auto with_gateway = [&](std::vector<std::string> args) {
    args.insert(args.end(), gw.begin(), gw.end());
    return cli(args);
  };

  auto r = with_gateway({"exec", "-c", "x = 41", "-c", "print(x + 1)"});
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out == "42\n");

  r = with_gateway({"kernelspecs"});
  CHECK(r.status == 0);
  CHECK(contains(r.out, "python3"));

  kgtest::temp_dir dir;
  const auto input = dir.path() / "fails.ipynb";
  kgtest::write_file(input, failing_notebook);
  r = with_gateway({"notebook", "run", input.string(), "-o", (dir.path() / "out.ipynb").string()});
  CHECK(r.status == 1);
  CHECK(contains(r.err, "ValueError"));
  const auto out = kg::notebook::read(dir.path() / "out.ipynb");
  CHECK(out.cells()[0]["outputs"][0]["text"] == "one\n");
  CHECK(out.cells()[2]["outputs"].empty());

  const std::string wrong = "not-" + server.token();
  r = cli({"exec", "--gateway", server.url(), "--token", wrong, "-c", "1"});
  CHECK(r.status != 0);
  CHECK(contains(r.err, "403"));
  CHECK_FALSE(contains(r.err + r.out, wrong));  // tokens never appear in messages
}
