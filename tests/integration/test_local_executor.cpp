#include <doctest/doctest.h>

#include "detail/process.hpp"
#include "kernelgate/error.hpp"
#include "kernelgate/exec/local_executor.hpp"
#include "kernelgate/exec/reply.hpp"
#include "support.hpp"

#include <signal.h>
#include <sys/types.h>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

namespace kg = kernelgate;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

// True when the process no longer runs: gone, or a zombie waiting for whoever reaps orphans.
bool ended(pid_t pid) {
  const std::string stat = kgtest::read_file("/proc/" + std::to_string(pid) + "/stat");
  if (stat.empty()) return true;
  const auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z';
}

// SIGKILL takes effect asynchronously: give the kernel a moment (bounded) to finish the process.
bool ends_soon(pid_t pid) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!ended(pid)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

std::unique_ptr<kg::code_executor> make(const fs::path& dir, std::chrono::milliseconds timeout = 60s) {
  kgtest::require_service(fs::exists(kgtest::system_python()), "/usr/bin/python3");
  return kg::make_local_executor({.work_dir = dir, .timeout = timeout});
}

}  // namespace

// --- AutoGen's LocalCommandLineCodeExecutor test cases ---------------------------------------

TEST_CASE("python and shell blocks succeed with their output") {
  kgtest::temp_dir dir;
  auto ex = make(dir.path());
  const auto py = ex->execute({{"python", "import sys\nprint('hello world!')\n"}});
  CHECK(py.exit_code == 0);
  CHECK(py.output == "hello world!\n");
  REQUIRE(py.code_file.has_value());
  CHECK(fs::exists(*py.code_file));
  for (const std::string lang : {"sh", "bash", "shell", "Python", "py", "python3"}) {
    const auto r = ex->execute({{lang, lang.starts_with("P") || lang.starts_with("py") ? "print('hi')" : "echo hi"}});
    CHECK(r.exit_code == 0);
    CHECK(r.output == "hi\n");
  }
}

TEST_CASE("an agent message with indented fences, as in AutoGen's conversable-agent test") {
  kgtest::temp_dir dir;
  auto ex = make(dir.path());
  // The fence regex keeps the indentation inside the block, so Python rejects it; the reply still
  // carries the code's text (in the traceback), which is all AutoGen's test asks.
  const auto reply = kg::generate_reply(*ex, "\n    Example:\n    ```python\n    print(\"hello extract code\")\n    ```\n    ");
  CHECK(reply.outcome == kg::reply_outcome::executed);
  CHECK(contains(reply.text, "hello extract code"));
  CHECK(reply.text.starts_with("exitcode: 1 (execution failed)\nCode output: "));
  CHECK(contains(reply.text, "IndentationError"));
}

TEST_CASE("failing code gives its exit code and its error output") {
  kgtest::temp_dir dir;
  auto ex = make(dir.path());
  const auto py = ex->execute({{"python", "raise ValueError('bad value')\n"}});
  CHECK(py.exit_code == 1);
  CHECK(contains(py.output, "ValueError: bad value"));
  const auto sh = ex->execute({{"sh", "echo partial\nexit 3\n"}});
  CHECK(sh.exit_code == 3);
  CHECK(sh.output == "partial\n");
}

TEST_CASE("several blocks run in order and stop at the first failure") {
  kgtest::temp_dir dir;
  auto ex = make(dir.path());
  const auto ok = ex->execute({{"python", "print('one')"}, {"sh", "echo two"}, {"python", "print('three')"}});
  CHECK(ok.exit_code == 0);
  CHECK(ok.output == "one\ntwo\nthree\n");
  const auto stopped = ex->execute({{"python", "print('a')"}, {"sh", "echo b; exit 2"}, {"python", "print('never')"}});
  CHECK(stopped.exit_code == 2);
  CHECK(stopped.output == "a\nb\n");
  CHECK(ex->execute(std::span<const kg::code_block>{}).exit_code == 0);
}

TEST_CASE("a file name in the first line is used, relative to the work directory") {
  kgtest::temp_dir dir;
  auto ex = make(dir.path());
  const auto r = ex->execute({{"python", "# filename: test.py\nprint('hello world')\n"}});
  CHECK(r.exit_code == 0);
  CHECK(r.output == "hello world\n");
  REQUIRE(r.code_file.has_value());
  CHECK(fs::path(*r.code_file) == fs::canonical(dir.path()) / "test.py");
  CHECK(kgtest::read_file(dir.path() / "test.py") == "# filename: test.py\nprint('hello world')\n");
  // The next block can use the file the first one named: files persist, processes do not.
  const auto again = ex->execute({{"sh", "python3 test.py"}});
  CHECK(again.output == "hello world\n");
}

TEST_CASE("a file name outside the work directory is refused with exit 1") {
  kgtest::temp_dir dir;
  auto ex = make(dir.path() / "ws");
  for (const std::string name : {"/tmp/test.py", "../test.py"}) {
    const auto r = ex->execute({{"python", "# filename: " + name + "\nprint('hello world')\n"}});
    CHECK(r.exit_code == 1);
    CHECK(r.output.starts_with("Filename is not in the workspace"));
    CHECK_FALSE(r.code_file.has_value());
  }
  CHECK_FALSE(fs::exists(dir.path() / "test.py"));
}

TEST_CASE("an unknown language gives exit 1 listing the supported ones") {
  kgtest::temp_dir dir;
  auto ex = make(dir.path());
  const auto r = ex->execute({{"python", "print('first')"}, {"cobol", "DISPLAY 'X'."}});
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "first\nunknown language cobol: supported languages are python, py, python3, bash, sh"));
  CHECK(ex->execute({{"", "x"}}).exit_code == 1);
}

TEST_CASE("a block that runs too long gives 124, keeps its output and says so") {
  kgtest::temp_dir dir;
  auto ex = make(dir.path(), 3s);
  const auto r = ex->execute({{"python", "import time\nprint('before', flush=True)\ntime.sleep(300)\nprint('after')\n"}});
  CHECK(r.exit_code == 124);
  CHECK(r.output.starts_with("before\n"));
  CHECK(contains(r.output, "Timeout"));
  CHECK_FALSE(contains(r.output, "after"));
  // The per-call timeout overrides the executor's.
  const auto quick = ex->execute({{"sh", "echo x; sleep 300"}}, {.timeout = 200ms});
  CHECK(quick.exit_code == 124);
  CHECK(contains(quick.output, "within 200 ms"));
}

TEST_CASE("environment: inherited, set by options, and PYTHONUNBUFFERED") {
  kgtest::temp_dir dir;
  kgtest::require_service(fs::exists(kgtest::system_python()), "/usr/bin/python3");
  auto ex = kg::make_local_executor({.work_dir = dir.path(), .env = {{"KG_TEST_VALUE", "forty two"}}});
  const auto r = ex->execute({{"sh", "echo \"$KG_TEST_VALUE\"; echo \"$PYTHONUNBUFFERED\"; test -n \"$PATH\" && echo path"}});
  CHECK(r.output == "forty two\n1\npath\n");
  auto bare = kg::make_local_executor({.work_dir = dir.path(), .inherit_env = false, .env = {{"ONLY", "this"}}});
  const auto b = bare->execute({{"python", "import os\nprint(sorted(k for k in os.environ if k != 'LC_CTYPE'))"}});
  CHECK(b.output == "['ONLY', 'PYTHONUNBUFFERED']\n");
}

TEST_CASE("a virtual environment's python runs python blocks and leads PATH") {
  kgtest::temp_dir dir;
  auto setup = make(dir.path());
  const auto made = setup->execute({{"sh", "/usr/bin/python3 -m venv --without-pip venv && echo made"}});
  REQUIRE(made.output == "made\n");
  auto ex = kg::make_local_executor({.work_dir = dir.path(), .virtual_env = dir.path() / "venv"});
  const auto r = ex->execute({{"python", "import sys\nprint(sys.prefix)"}, {"sh", "command -v python"}});
  CHECK(r.exit_code == 0);
  const auto venv = fs::absolute(dir.path() / "venv").string();
  CHECK(r.output == venv + "\n" + venv + "/bin/python\n");
  CHECK_THROWS_AS(kg::make_local_executor({.virtual_env = dir.path() / "missing"}), kg::error);

  // A relative virtual_env is relative to the caller's directory, not to the work directory.
  auto relative = kg::make_local_executor(
      {.work_dir = dir.path() / "elsewhere", .virtual_env = fs::relative(dir.path() / "venv", fs::current_path())});
  const auto in_venv = relative->execute({{"py", "import sys\nprint(sys.prefix != sys.base_prefix, sys.executable)"}});
  CHECK(in_venv.exit_code == 0);
  CHECK(in_venv.output == "True " + venv + "/bin/python\n");
}

TEST_CASE("javascript runs through node") {
  kgtest::temp_dir dir;
  kgtest::require_service(!kg::detail::find_program("node").empty(), "node (Debian package nodejs)");
  auto ex = make(dir.path());
  for (const char* lang : {"javascript", "js"}) {
    const auto r = ex->execute({{lang, "console.log(6 * 7); console.error('warn');"}});
    CHECK(r.exit_code == 0);
    CHECK(r.output == "42\nwarn\n");
  }
}

TEST_CASE("restart is a no-op; stop removes only a temporary work directory; stop twice is fine") {
  kgtest::require_service(fs::exists(kgtest::system_python()), "/usr/bin/python3");
  auto temp = kg::make_local_executor();
  const auto r = temp->execute({{"python", "import os\nprint(os.getcwd())"}});
  REQUIRE(r.exit_code == 0);
  const fs::path made = r.output.substr(0, r.output.size() - 1);
  CHECK(fs::is_directory(made));
  temp->restart();
  CHECK(temp->execute({{"sh", "echo still"}}).output == "still\n");
  temp->stop();
  temp->stop();
  CHECK_FALSE(fs::exists(made));
  CHECK_THROWS_AS((void)temp->execute({{"sh", "echo no"}}), kg::error);

  kgtest::temp_dir dir;
  auto given = make(dir.path() / "given");
  CHECK(given->execute({{"sh", "echo x > f.txt"}}).exit_code == 0);
  given->stop();
  CHECK(fs::exists(dir.path() / "given" / "f.txt"));
  CHECK(given->kind() == kg::backend::local);
}

TEST_CASE("bad options are clear errors") {
  CHECK_THROWS_AS(kg::make_local_executor({.timeout = 0ms}), kg::error);
  CHECK_THROWS_AS(kg::make_local_executor({.python = "/nonexistent/python3"}), kg::error);
  try {
    (void)kg::make_local_executor({.python = "/nonexistent/python3"});
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::invalid_argument);
    CHECK(contains(e.what(), "/nonexistent/python3"));
  }
}

// --- beyond AutoGen ----------------------------------------------------------------------------

TEST_CASE("a timeout kills the whole process group, background grandchildren included") {
  kgtest::temp_dir dir;
  auto ex = make(dir.path(), 1s);
  const auto r = ex->execute({{"sh", "sleep 300 &\necho $! > bg.pid\necho started\nsleep 300\n"}});
  CHECK(r.exit_code == 124);
  CHECK(r.output.starts_with("started\n"));
  CHECK(ends_soon(std::stoi(kgtest::read_file(dir.path() / "bg.pid"))));
}

TEST_CASE("a block that exits leaving background children on its pipes does not hang the call") {
  kgtest::temp_dir dir;
  // Were the call to wait for the pipes to close, it would hit this timeout and give 124.
  auto ex = make(dir.path(), 120s);
  const auto r = ex->execute({{"sh", "sleep 300 &\necho $! > bg.pid\necho done\n"}, {"sh", "echo next"}});
  CHECK(r.exit_code == 0);
  CHECK(r.output == "done\nnext\n");
  CHECK(ends_soon(std::stoi(kgtest::read_file(dir.path() / "bg.pid"))));
}

TEST_CASE("huge output is capped with a note saying how much was dropped") {
  kgtest::temp_dir dir;
  kgtest::require_service(fs::exists(kgtest::system_python()), "/usr/bin/python3");
  auto ex = kg::make_local_executor({.work_dir = dir.path(), .max_output_bytes = 100000});
  const auto r = ex->execute({{"python", "import sys\nsys.stdout.write('x' * 5_000_000)\nprint('end')"}});
  CHECK(r.exit_code == 0);
  CHECK(r.output.starts_with(std::string(100000, 'x') + "\n[output truncated: 4900004 bytes beyond the 100000-byte"));
  CHECK(r.output.size() < 100200);
}

TEST_CASE("a stop request from another thread cancels the running block with 130") {
  kgtest::temp_dir dir;
  auto ex = make(dir.path());
  std::stop_source source;
  std::jthread canceller;
  std::mutex m;
  const auto r = ex->execute({{"python", "import time\nprint('ready', flush=True)\ntime.sleep(300)"}, {"sh", "echo never"}},
                             {.on_output =
                                  [&](const kg::output& o) {
                                    std::lock_guard lock(m);
                                    if (contains(o.text, "ready") && !canceller.joinable())
                                      canceller = std::jthread([&source] { source.request_stop(); });
                                  },
                              .stop = source.get_token()});
  CHECK(r.exit_code == 130);
  CHECK(r.output.starts_with("ready\n"));
  CHECK(contains(r.output, "Cancelled"));
  CHECK_FALSE(contains(r.output, "never"));
  // A token already stopped runs nothing.
  const auto none = ex->execute({{"sh", "echo x > ran.txt"}}, {.stop = source.get_token()});
  CHECK(none.exit_code == 130);
  CHECK_FALSE(fs::exists(dir.path() / "ran.txt"));
}

TEST_CASE("streaming: outputs arrive in the order produced, with their stream names") {
  kgtest::temp_dir dir;
  auto ex = make(dir.path());
  // The block waits for an acknowledgement file after each write, so the order is certain.
  const std::string code =
      "import os, sys, time\n"
      "def wait(name):\n"
      "    while not os.path.exists(name):\n"
      "        time.sleep(0.002)\n"
      "print('one'); wait('ack1')\n"
      "print('two', file=sys.stderr); wait('ack2')\n"
      "print('three')\n";
  // Unbuffered print() writes the text and the newline separately: pieces of one stream are joined.
  std::vector<std::pair<std::string, std::string>> seen;
  int lines = 0;
  ex->set_output_handler([&](const kg::output& o) {
    CHECK(o.kind == kg::output_kind::stream);
    if (seen.empty() || seen.back().first != o.name) seen.emplace_back(o.name, "");
    seen.back().second += o.text;
    if (o.text.ends_with("\n")) kgtest::write_file(dir.path() / ("ack" + std::to_string(++lines)), "");
  });
  const auto r = ex->execute({{"python", code}});
  CHECK(r.exit_code == 0);
  CHECK(r.output == "one\ntwo\nthree\n");
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"stdout", "one\n"}, {"stderr", "two\n"}, {"stdout", "three\n"}};
  CHECK(seen == expected);
}

TEST_CASE("the streamed pieces add up to the result's output, notes included") {
  kgtest::temp_dir dir;
  auto ex = make(dir.path(), 1s);
  std::string streamed;
  const auto r = ex->execute({{"sh", "echo a; echo b >&2; sleep 300"}},
                             {.on_output = [&](const kg::output& o) { streamed += o.text; }});
  CHECK(r.exit_code == 124);
  CHECK(streamed == r.output);
}

TEST_CASE("the seed example: numpy and matplotlib draw scatter.png") {
  kgtest::temp_dir dir;
  auto ex = make(dir.path());
  const std::string message = kgtest::read_file(fs::path(KERNELGATE_SOURCE_DIR) / "scripts" / "seed-message.md");
  REQUIRE_FALSE(message.empty());
  const auto reply = kg::generate_reply(*ex, message);
  CHECK(reply.text == "exitcode: 0 (execution succeeded)\nCode output: Scatter plot saved to scatter.png\n");
  const auto png = dir.path() / "scatter.png";
  REQUIRE(fs::exists(png));
  CHECK(kgtest::read_file(png).starts_with("\x89PNG"));
  REQUIRE(reply.result.has_value());
  CHECK(reply.result->output_files == std::vector<std::string>{fs::canonical(png).string()});
}

TEST_CASE("concurrent runs of the same code in one work directory share the hashed file safely") {
  kgtest::temp_dir dir;
  auto a = make(dir.path());
  auto b = make(dir.path());
  const std::string code = "import sys\nprint(len(open(sys.argv[0]).read()))\n";
  const auto expected = std::to_string(code.size()) + "\n";
  std::vector<kg::code_result> from_b;
  {
    std::jthread other([&] {
      for (int i = 0; i < 10; ++i) from_b.push_back(b->execute({{"python", code}}));
    });
    for (int i = 0; i < 10; ++i) {
      const auto r = a->execute({{"python", code}});
      CHECK(r.exit_code == 0);
      CHECK(r.output == expected);
    }
  }
  REQUIRE(from_b.size() == 10);
  for (const auto& r : from_b) {
    CHECK(r.exit_code == 0);
    CHECK(r.output == expected);
  }
  // One code file, no temporaries left behind.
  CHECK(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()) == 1);
}

TEST_CASE("an enormous timeout means no deadline, not an overflow") {
  kgtest::temp_dir dir;
  auto ex = make(dir.path(), std::chrono::milliseconds::max());
  const auto r = ex->execute({{"sh", "echo fine"}});
  CHECK(r.exit_code == 0);
  CHECK(r.output == "fine\n");
}
