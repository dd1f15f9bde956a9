#include <doctest/doctest.h>

#include "detail/process.hpp"
#include "support.hpp"

#include <nlohmann/json.hpp>

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

namespace kd = kernelgate::detail;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

struct cli_run {
  int status = -1;
  std::string out, err;
};

std::string drain(int fd) {
  std::string s;
  char buf[4096];
  for (;;) {
    if (!kd::wait_readable(fd, 120s)) break;  // a hung command fails the test instead of hanging it
    const auto n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    s.append(buf, static_cast<std::size_t>(n));
  }
  return s;
}

cli_run run_cli(std::vector<std::string> args, const std::string& input = "") {
  kgtest::require_service(fs::exists(kgtest::system_python()), "/usr/bin/python3");
  // These are the local executor's tests: name it (the command's default is a kernel when one
  // can start). A later --executor in `args` still wins.
  if (!args.empty() && (args[0] == "exec" || args[0] == "run" || args[0] == "reply"))
    args.insert(args.begin() + 1, {"--executor", "local"});
  args.insert(args.begin(), KERNELGATE_CLI_PATH);
  auto child = kd::child_process::spawn({.argv = args, .in = kd::stdio::pipe});
  if (!input.empty()) REQUIRE(::write(child.stdin_fd(), input.data(), input.size()) == static_cast<ssize_t>(input.size()));
  child.close_stdin();
  cli_run r;
  r.out = drain(child.stdout_fd());
  r.err = drain(child.stderr_fd());
  r.status = child.wait_for(60s).value_or(-1);
  return r;
}

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("exec runs -c blocks, streams their output and exits with their code") {
  kgtest::temp_dir dir;
  auto r = run_cli({"exec", "--work-dir", dir.path().string(), "-c", "print(6*7)", "-c",
                       "import sys; print('to stderr', file=sys.stderr)"});
  CHECK(r.status == 0);
  CHECK(r.out == "42\n");
  CHECK(r.err == "to stderr\n");
  r = run_cli({"exec", "--lang", "sh", "-c", "echo before; exit 3", "-c", "echo never"});
  CHECK(r.status == 3);
  CHECK(r.out == "before\n");
}

TEST_CASE("exec reads one block from standard input when there is no -c") {
  const auto r = run_cli({"exec", "--lang=bash"}, "x=5\necho $((x * 2))\n");
  CHECK(r.status == 0);
  CHECK(r.out == "10\n");
}

TEST_CASE("--json prints the code_result") {
  kgtest::temp_dir dir;
  const auto r = run_cli({"exec", "--json", "--work-dir", dir.path().string(), "-c",
                             "open('out.txt', 'w').write('x'); print('hi')"});
  CHECK(r.status == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j.at("exit_code") == 0);
  CHECK(j.at("output") == "hi\n");
  CHECK(fs::exists(j.at("code_file").get<std::string>()));
  CHECK(j.at("output_files") == nlohmann::json::array({(fs::canonical(dir.path()) / "out.txt").string()}));
}

TEST_CASE("run takes the language from the extension, or from --lang") {
  kgtest::temp_dir dir;
  kgtest::write_file(dir.path() / "a.py", "print('from python')\n");
  kgtest::write_file(dir.path() / "b.sh", "echo from sh\n");
  kgtest::write_file(dir.path() / "c.txt", "echo from txt\n");
  auto r = run_cli({"run", (dir.path() / "a.py").string(), (dir.path() / "b.sh").string()});
  CHECK(r.status == 0);
  CHECK(r.out == "from python\nfrom sh\n");
  r = run_cli({"run", (dir.path() / "c.txt").string()});
  CHECK(r.status == 2);
  CHECK(contains(r.err, "pass --lang"));
  r = run_cli({"run", "--lang", "sh", (dir.path() / "c.txt").string()});
  CHECK(r.out == "from txt\n");
  r = run_cli({"run", (dir.path() / "missing.py").string()});
  CHECK(r.status == 2);
  CHECK(contains(r.err, "missing.py"));
}

TEST_CASE("reply prints the AutoGen reply for the seed example") {
  kgtest::temp_dir dir;
  const auto seed = (fs::path(KERNELGATE_SOURCE_DIR) / "scripts" / "seed-message.md").string();
  const auto r = run_cli({"reply", "--work-dir", dir.path().string(), seed});
  CHECK(r.status == 0);
  CHECK(r.out == "exitcode: 0 (execution succeeded)\nCode output: Scatter plot saved to scatter.png\n");
  CHECK(fs::exists(dir.path() / "scatter.png"));
}

TEST_CASE("reply reads standard input; failures and missing blocks") {
  auto r = run_cli({"reply"}, "Try:\n```sh\necho oops >&2\nexit 4\n```\n");
  CHECK(r.status == 4);
  CHECK(r.out == "exitcode: 4 (execution failed)\nCode output: oops\n");
  r = run_cli({"reply", "-", "--json"}, "nothing to run");
  CHECK(r.status == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j.at("outcome") == "no_blocks");
  CHECK(contains(j.at("reply").get<std::string>(), "No code blocks found"));
}

TEST_CASE("reply --approve: Enter runs, any other text denies with that reason") {
  kgtest::temp_dir dir;
  const auto message = dir.path() / "message.md";
  kgtest::write_file(message, "```sh\necho ran > ran.txt\necho done\n```\n");
  auto r = run_cli({"reply", "--approve", "--work-dir", dir.path().string(), message.string()}, "not today\n");
  CHECK(r.status == 1);
  CHECK(r.out == "Code execution was not approved. Reason: not today\n");
  CHECK(contains(r.err, "echo ran > ran.txt"));
  CHECK_FALSE(fs::exists(dir.path() / "ran.txt"));
  r = run_cli({"reply", "--approve", "--work-dir", dir.path().string(), message.string()}, "\n");
  CHECK(r.status == 0);
  CHECK(r.out == "exitcode: 0 (execution succeeded)\nCode output: done\n");
  CHECK(fs::exists(dir.path() / "ran.txt"));
}

TEST_CASE("--timeout stops a block with 124 and says so") {
  const auto r = run_cli({"exec", "--timeout", "0.5", "--lang", "sh", "-c", "echo started; sleep 300"});
  CHECK(r.status == 124);
  CHECK(r.out == "started\n");
  CHECK(contains(r.err, "Timeout"));
}

TEST_CASE("Ctrl-C cancels the running block: exit 130") {
  kgtest::require_service(fs::exists(kgtest::system_python()), "/usr/bin/python3");
  auto child = kd::child_process::spawn(
      {.argv = {KERNELGATE_CLI_PATH, "exec", "--executor", "local", "--lang", "sh", "-c", "echo ready; sleep 300"}});
  std::string out;
  char buf[256];
  while (!contains(out, "ready\n")) {
    REQUIRE(kd::wait_readable(child.stdout_fd(), 60s));
    const auto n = ::read(child.stdout_fd(), buf, sizeof buf);
    REQUIRE(n > 0);
    out.append(buf, static_cast<std::size_t>(n));
  }
  child.signal(SIGINT);
  CHECK(child.wait_for(60s) == 130);
  CHECK(contains(drain(child.stderr_fd()), "Cancelled"));
}

TEST_CASE("bad flags and input: a clear message and status 2") {
  struct bad {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<bad> cases = {
      {{}, "no command"},
      {{"frobnicate"}, "unknown command 'frobnicate'"},
      {{"exec", "--bogus"}, "unknown option '--bogus'"},
      {{"exec", "--timeout", "soon", "-c", "1"}, "--timeout takes a positive number"},
      {{"exec", "--timeout", "-1", "-c", "1"}, "--timeout takes a positive number"},
      {{"exec", "--work-dir"}, "--work-dir needs a value"},
      {{"exec", "--executor", "nope", "-c", "1"}, "unknown executor 'nope'"},
      {{"exec", "--executor", "kernel", "-k", "kernelgate-no-such-kernel", "-c", "1"}, "kernelgate-no-such-kernel"},
      {{"exec", "--executor", "local", "-k", "python3", "-c", "1"}, "-k chooses the kernel executor"},
      {{"exec", "--work-dir", "/proc/version", "-c", "1"}, "cannot create work directory /proc/version"},
      {{"run"}, "run needs at least one FILE"},
      {{"reply", "--lang", "python"}, "--lang is not an option of `reply`"},
      {{"exec", "--approve"}, "--approve is an option of `reply`"},
      {{"exec", "--json=yes"}, "--json takes no value"},
  };
  for (const auto& c : cases) {
    const auto r = run_cli(c.args);
    CHECK(r.status == 2);
    CHECK_MESSAGE(contains(r.err, c.says), r.err);
    CHECK(r.out.empty());
  }
}

TEST_CASE("--help and --version") {
  auto r = run_cli({"--help"});
  CHECK(r.status == 0);
  CHECK(contains(r.out, "usage: kernelgate COMMAND"));
  r = run_cli({"reply", "--help"});
  CHECK(r.status == 0);
  CHECK(contains(r.out, "--approve"));
  r = run_cli({"--version"});
  CHECK(r.out == "kernelgate 0.1.0\n");
}
