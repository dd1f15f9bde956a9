// kernel_session against a real ipykernel (Debian's python3 kernelspec).

#include "kernelgate/kernel/kernel_session.hpp"
#include "ipykernel_support.hpp"

#include <doctest/doctest.h>

#include <signal.h>

#include <algorithm>
#include <thread>

using namespace std::chrono_literals;
namespace kg = kernelgate;

namespace {

std::string stdout_of(const kg::execute_reply& r) {
  std::string s;
  for (const auto& o : r.outputs)
    if (o.kind == kg::output_kind::stream) s += o.text;
  return s;
}

}  // namespace

TEST_CASE("state persists across executes; outputs, results and errors are collected") {
  kgtest::require_ipykernel();
  kgtest::temp_dir dir;
  auto s = kg::kernel_session::start({.kernel = "python3", .work_dir = dir.path()});
  CHECK(s.owned());
  CHECK(s.pid() > 0);
  CHECK(s.info().language == "python");
  CHECK(std::filesystem::exists(s.connection_file()));

  auto r1 = s.execute("x = 41\nimport os\nprint(os.getcwd())");
  CHECK(r1.status == kg::reply_status::ok);
  CHECK(stdout_of(r1) == dir.path().string() + "\n");
  auto r2 = s.execute("print(x + 1)\nx + 2");
  CHECK(stdout_of(r2) == "42\n");
  REQUIRE(r2.outputs.size() == 2);
  CHECK(r2.outputs[1].kind == kg::output_kind::execute_result);
  CHECK(r2.outputs[1].text == "43");
  REQUIRE(r2.execution_count.has_value());
  REQUIRE(r1.execution_count.has_value());
  CHECK(*r2.execution_count == *r1.execution_count + 1);

  auto r3 = s.execute("def f():\n    return 1/0\nf()");
  CHECK(r3.status == kg::reply_status::error);
  CHECK(r3.ename == "ZeroDivisionError");
  REQUIRE_FALSE(r3.traceback.empty());
  for (const auto& line : r3.traceback) CHECK(line.find('\x1b') == std::string::npos);
  bool saw_error_output = false;
  for (const auto& o : r3.outputs) saw_error_output |= o.kind == kg::output_kind::error;
  CHECK(saw_error_output);

  const auto conn = s.connection_file();
  s.shutdown();
  CHECK_FALSE(std::filesystem::exists(conn));
  CHECK_THROWS_AS(s.execute("1"), kg::error);
}

TEST_CASE("streaming callback sees stdout and stderr in order") {
  kgtest::require_ipykernel();
  kgtest::temp_dir dir;
  auto s = kg::kernel_session::start({.work_dir = dir.path()});
  std::vector<std::string> seen;
  kg::run_options o;
  o.on_output = [&](const kg::output& out) { seen.push_back(out.name + ":" + out.text); };
  auto r = s.execute("import sys\nprint('a', flush=True)\nprint('b', file=sys.stderr, flush=True)\nprint('c', flush=True)", o);
  CHECK(r.status == kg::reply_status::ok);
  std::string joined;
  for (const auto& x : seen) joined += x;
  CHECK(joined == "stdout:a\nstderr:b\nstdout:c\n");
}

TEST_CASE("kill -9 of the kernel mid-run gives kernel_died, and restart brings a fresh namespace") {
  kgtest::require_ipykernel();
  kgtest::temp_dir dir;
  auto s = kg::kernel_session::start({.work_dir = dir.path()});
  (void)s.execute("y = 5");
  const int pid = s.pid();
  kg::run_options o;
  o.timeout = 120s;
  // The code announces that it is running; the handler (on the transport thread) then kills it.
  o.on_output = [pid](const kg::output& out) {
    if (out.text.find("looping") != std::string::npos) ::kill(pid, SIGKILL);
  };
  try {
    (void)s.execute("import time\nprint('looping', flush=True)\nwhile True: time.sleep(0.01)", o);
    FAIL("execute should throw kernel_died");
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::kernel_died);
    CHECK(std::string(e.what()).find("signal 9") != std::string::npos);
  }
  CHECK_FALSE(s.alive());
  CHECK_THROWS_AS(s.execute("1"), kg::error);
  s.restart();
  CHECK(s.alive());
  auto r = s.execute("print('y' in globals())");
  CHECK(stdout_of(r) == "False\n");
}

TEST_CASE("ipykernel's reply pause is off in a started kernel, across restarts, unless kept") {
  kgtest::require_ipykernel();
  kgtest::temp_dir dir;
  const auto pause_of = [](kg::kernel_session& s) {
    const auto r = s.execute("get_ipython().kernel._execute_sleep");
    REQUIRE(r.outputs.size() == 1);
    return r.outputs[0].text;
  };
  auto s = kg::kernel_session::start({.work_dir = dir.path()});
  CHECK(pause_of(s) == "0.0");
  // Outputs still all arrive, the last one often after the reply: the client waits for idle.
  for (int i = 0; i < 50; ++i) CHECK(stdout_of(s.execute("print(" + std::to_string(i) + ")")) == std::to_string(i) + "\n");
  s.restart();
  CHECK(pause_of(s) == "0.0");
  kg::kernel_start_options keep{.work_dir = dir.path()};
  keep.ipython_reply_pause = true;
  auto kept = kg::kernel_session::start(keep);
  CHECK(pause_of(kept) == "0.0005");  // ipykernel 6.17's default
  // A pause the caller sets in its own arguments is the one used.
  auto own = kg::kernel_session::start({.work_dir = dir.path(), .extra_arguments = {"--Kernel._execute_sleep=0.002"}});
  CHECK(pause_of(own) == "0.002");
}

TEST_CASE("timeout interrupts the kernel, keeps partial output, and state survives") {
  kgtest::require_ipykernel();
  kgtest::temp_dir dir;
  auto s = kg::kernel_session::start({.work_dir = dir.path()});
  (void)s.execute("z = 'kept'");
  kg::run_options o;
  o.timeout = 1500ms;
  auto r = s.execute("import time\nprint('before', flush=True)\ntime.sleep(600)", o);
  CHECK(r.timed_out);
  CHECK_FALSE(r.state_lost);
  CHECK(stdout_of(r) == "before\n");
  CHECK(r.status == kg::reply_status::error);
  CHECK(r.ename == "KeyboardInterrupt");
  auto after = s.execute("print(z)");
  CHECK(stdout_of(after) == "kept\n");
}

TEST_CASE("input() without a handler fails at once; with one it gets the answer") {
  kgtest::require_ipykernel();
  kgtest::temp_dir dir;
  auto s = kg::kernel_session::start({.work_dir = dir.path()});
  auto no = s.execute("input('name? ')", {.timeout = 60s});
  CHECK_FALSE(no.timed_out);
  CHECK(no.status == kg::reply_status::error);
  CHECK(no.ename == "StdinNotImplementedError");
  kg::run_options o;
  std::string asked;
  o.on_input = [&](const kg::input_prompt& p) {
    asked = p.prompt;
    return std::string("Ada");
  };
  auto yes = s.execute("print('hello', input('name? '))", o);
  CHECK(asked == "name? ");
  CHECK(stdout_of(yes) == "hello Ada\n");
}

TEST_CASE("an inline matplotlib figure and savefig both end up as files") {
  kgtest::require_ipykernel();
  kgtest::temp_dir dir;
  auto s = kg::kernel_session::start({.work_dir = dir.path()});
  auto r = s.execute(
      "import matplotlib\nmatplotlib.use('module://matplotlib_inline.backend_inline')\n"
      "import matplotlib.pyplot as plt\nplt.scatter([1,2,3],[3,1,2])\nplt.savefig('scatter.png')\nplt.show()",
      {.timeout = 120s});
  CHECK(r.status == kg::reply_status::ok);
  REQUIRE(r.output_files.size() >= 1);
  bool png = false;
  for (const auto& f : r.output_files) {
    CHECK(std::filesystem::path(f).parent_path() == dir.path());
    if (std::filesystem::path(f).extension() == ".png") {
      const auto bytes = kgtest::read_file(f);
      png = bytes.size() > 8 && bytes.compare(0, 8, std::string("\x89PNG\r\n\x1a\n", 8)) == 0;
    }
  }
  CHECK(png);
  CHECK(std::filesystem::exists(dir.path() / "scatter.png"));
}

TEST_CASE("client requests: complete, inspect, is_complete, history, comm_info") {
  kgtest::require_ipykernel();
  kgtest::temp_dir dir;
  auto s = kg::kernel_session::start({.work_dir = dir.path()});
  (void)s.execute("alpha_value = 3");
  auto& c = s.client();
  const auto comp = c.complete("alpha_v", 7, 30s);
  CHECK(std::find(comp.matches.begin(), comp.matches.end(), "alpha_value") != comp.matches.end());
  CHECK(comp.cursor_end == 7);
  const auto insp = c.inspect("alpha_value", 11, 0, 30s);
  CHECK(insp.found);
  CHECK(c.is_complete("for i in range(3):", 30s).completeness == kg::code_completeness::incomplete);
  CHECK(c.is_complete("x = 1", 30s).completeness == kg::code_completeness::complete);
  const auto hist = c.history({.kind = kg::history_query::access::tail, .n = 5}, 30s);
  bool found = false;
  for (const auto& h : hist.history) found |= h.input == "alpha_value = 3";
  CHECK(found);
  const auto comms = c.comm_info("", 30s);
  CHECK(comms.status == kg::reply_status::ok);
}

TEST_CASE("a missing kernelspec and a broken one give clear errors") {
  kgtest::temp_dir jp;
  std::filesystem::create_directories(jp.path() / "kernels/broken");
  kgtest::write_file(jp.path() / "kernels/broken/kernel.json",
                     R"json({"argv": ["/usr/bin/python3", "-c", "import sys; sys.stderr.write('no kernel here\\n'); sys.exit(3)", "{connection_file}"], "language": "python"})json");
  ::setenv("JUPYTER_PATH", jp.path().c_str(), 1);
  try {
    (void)kg::kernel_session::start({.kernel = "nosuchkernel", .work_dir = jp.path()});
    FAIL("should throw");
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::no_such_kernel);
  }
  try {
    (void)kg::kernel_session::start({.kernel = "broken", .work_dir = jp.path(), .startup_timeout = 30s});
    FAIL("should throw");
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::launch_failed);
    const std::string msg = e.what();
    CHECK(msg.find("broken") != std::string::npos);
    CHECK(msg.find("status 3") != std::string::npos);
    CHECK(msg.find("no kernel here") != std::string::npos);
  }
  ::unsetenv("JUPYTER_PATH");
}

TEST_CASE("a kernel that loses a port race at start-up is relaunched on fresh ports") {
  kgtest::require_ipykernel();
  kgtest::temp_dir jp;
  const auto marker = jp.path() / "first-attempt-done";
  // The first launch fails as a kernel does when another process took its port; the second is real.
  const std::string script =
      "import os, sys\n"
      "marker, conn = sys.argv[1], sys.argv[2]\n"
      "if not os.path.exists(marker):\n"
      "    open(marker, 'w').close()\n"
      "    sys.stderr.write('zmq.error.ZMQError: Address already in use (addr=tcp://127.0.0.1:5555)\\n')\n"
      "    sys.exit(1)\n"
      "os.execv('/usr/bin/python3', ['/usr/bin/python3', '-m', 'ipykernel_launcher', '-f', conn])\n";
  const nlohmann::json spec = {{"argv", {"/usr/bin/python3", "-c", script, marker.string(), "{connection_file}"}},
                               {"language", "python"}};
  std::filesystem::create_directories(jp.path() / "kernels/racy");
  kgtest::write_file(jp.path() / "kernels/racy/kernel.json", spec.dump());
  ::setenv("JUPYTER_PATH", jp.path().c_str(), 1);
  auto s = kg::kernel_session::start({.kernel = "racy", .work_dir = jp.path()});
  ::unsetenv("JUPYTER_PATH");
  CHECK(std::filesystem::exists(marker));
  auto r = s.execute("print(6 * 7)");
  REQUIRE(r.outputs.size() == 1);
  CHECK(r.outputs[0].text == "42\n");
}

TEST_CASE("interrupt_mode message: a timeout interrupts through interrupt_request on control") {
  kgtest::require_ipykernel();
  kgtest::temp_dir jp;
  // Debian's python3 kernelspec, asking for message-mode interrupts.
  auto spec = nlohmann::json::parse(kgtest::read_file("/usr/share/jupyter/kernels/python3/kernel.json"));
  spec["interrupt_mode"] = "message";
  std::filesystem::create_directories(jp.path() / "kernels/py-message");
  kgtest::write_file(jp.path() / "kernels/py-message/kernel.json", spec.dump());
  ::setenv("JUPYTER_PATH", jp.path().c_str(), 1);
  auto s = kg::kernel_session::start({.kernel = "py-message", .work_dir = jp.path()});
  ::unsetenv("JUPYTER_PATH");
  (void)s.execute("kept = 7");
  auto r = s.execute("import time\ntime.sleep(300)", {.timeout = 1500ms});
  CHECK(r.timed_out);
  CHECK_FALSE(r.state_lost);
  CHECK(r.ename == "KeyboardInterrupt");
  auto after = s.execute("print(kept)");
  REQUIRE(after.outputs.size() == 1);
  CHECK(after.outputs[0].text == "7\n");
}
