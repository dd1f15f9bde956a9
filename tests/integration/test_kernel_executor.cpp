// The kernel executor (code_executor over a real ipykernel): AutoGen JupyterCodeExecutor semantics.
// The timeout cases live in the shared conformance suite (test_kernel_conformance.cpp).

#include "kernelgate/exec/kernel_executor.hpp"
#include "kernelgate/exec/markdown.hpp"
#include "kernelgate/kernel/kernel_session.hpp"
#include "ipykernel_support.hpp"

#include <doctest/doctest.h>

#include <signal.h>

#include <thread>

using namespace std::chrono_literals;
namespace kg = kernelgate;

namespace {

kg::code_block py(std::string code) { return {"python", std::move(code)}; }

}  // namespace

TEST_CASE("blocks share one kernel: state persists across blocks and calls") {
  kgtest::require_ipykernel();
  kgtest::temp_dir dir;
  auto ex = kg::make_kernel_executor({.work_dir = dir.path()});
  CHECK(ex->kind() == kg::backend::kernel);
  auto r1 = ex->execute({py("x = 41"), py("print(x + 1)")});
  CHECK(r1.exit_code == 0);
  CHECK(r1.output == "42\n");
  CHECK_FALSE(r1.code_file.has_value());
  auto r2 = ex->execute({py("x += 1\nx")});
  CHECK(r2.exit_code == 0);
  CHECK(r2.output == "42\n");
  ex->restart();
  auto r3 = ex->execute({py("print('x' in globals())")});
  CHECK(r3.output == "False\n");
}

TEST_CASE("shell blocks run through %%bash; unknown languages exit 1 naming the language") {
  kgtest::require_ipykernel();
  kgtest::temp_dir dir;
  auto ex = kg::make_kernel_executor({.work_dir = dir.path()});
  auto sh = ex->execute({{"sh", "echo from-shell; pwd"}});
  CHECK(sh.exit_code == 0);
  CHECK(sh.output == "from-shell\n" + dir.path().string() + "\n");
  auto bad = ex->execute({py("print('first')"), {"cobol", "DISPLAY 'X'."}, py("print('never')")});
  CHECK(bad.exit_code == 1);
  CHECK(bad.output.find("first\n") == 0);
  CHECK(bad.output.find("cobol") != std::string::npos);
  CHECK(bad.output.find("never") == std::string::npos);
}

TEST_CASE("an exception gives exit 1 with the traceback, and stops the run") {
  kgtest::require_ipykernel();
  kgtest::temp_dir dir;
  auto ex = kg::make_kernel_executor({.work_dir = dir.path()});
  auto r = ex->execute({py("print('a')\nraise ValueError('bad value')"), py("print('b')")});
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("a\n") == 0);
  CHECK(r.output.find("ValueError: bad value") != std::string::npos);
  CHECK(r.output.find('\x1b') == std::string::npos);
  CHECK(r.output.find("\nb\n") == std::string::npos);
}

TEST_CASE("the seed example's savefig and inline images both end up in output_files") {
  kgtest::require_ipykernel();
  kgtest::temp_dir dir;
  auto ex = kg::make_kernel_executor({.work_dir = dir.path()});
  const auto blocks = kg::extract_code_blocks(kgtest::read_file(KERNELGATE_SOURCE_DIR "/scripts/seed-message.md"));
  REQUIRE(blocks.size() == 1);
  auto r = ex->execute(blocks);
  CHECK(r.exit_code == 0);
  CHECK(r.output.find("Scatter plot saved to scatter.png") != std::string::npos);
  const auto scatter = (dir.path() / "scatter.png").string();
  CHECK(std::find(r.output_files.begin(), r.output_files.end(), scatter) != r.output_files.end());

  auto inline_fig = ex->execute({py("%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([1,2,3])\nplt.show()")});
  CHECK(inline_fig.exit_code == 0);
  bool png = false;
  for (const auto& f : inline_fig.output_files)
    if (std::filesystem::path(f).extension() == ".png") {
      const auto bytes = kgtest::read_file(f);
      png = bytes.compare(0, 8, std::string("\x89PNG\r\n\x1a\n", 8)) == 0;
      CHECK(inline_fig.output.find("Image data saved to " + f) != std::string::npos);
    }
  CHECK(png);
}

TEST_CASE("kernel death: non-zero exit with a clear message; the next execute restarts") {
  kgtest::require_ipykernel();
  kgtest::temp_dir dir;
  auto ex = kg::make_kernel_executor({.work_dir = dir.path()});
  (void)ex->execute({py("state = 1")});
  auto r = ex->execute({py("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")});
  CHECK(r.exit_code != 0);
  CHECK(r.output.find("signal 9") != std::string::npos);
  CHECK(r.output.find("next execute starts a new kernel") != std::string::npos);
  auto after = ex->execute({py("print('state' in globals())")});
  CHECK(after.exit_code == 0);
  CHECK(after.output.find("restarted") != std::string::npos);
  CHECK(after.output.find("False\n") != std::string::npos);
}

TEST_CASE("streaming handler sees outputs as they arrive; stop token cancels with 130") {
  kgtest::require_ipykernel();
  kgtest::temp_dir dir;
  auto ex = kg::make_kernel_executor({.work_dir = dir.path()});
  std::stop_source stop;
  std::vector<std::string> seen;
  std::mutex m;
  kg::execute_options o;
  o.stop = stop.get_token();
  o.on_output = [&](const kg::output& out) {
    std::lock_guard lk(m);
    seen.push_back(out.text);
    if (out.text.find("tick") != std::string::npos) stop.request_stop();
  };
  auto r = ex->execute({py("import time\nprint('tick', flush=True)\ntime.sleep(300)")}, o);
  CHECK(r.exit_code == 130);
  CHECK(r.output.find("tick\n") == 0);
  CHECK(r.output.find("Cancelled") != std::string::npos);
  std::lock_guard lk(m);
  REQUIRE_FALSE(seen.empty());
  CHECK(seen[0] == "tick\n");
}

TEST_CASE("attach via a connection file: runs code, and stop() leaves the kernel running") {
  kgtest::require_ipykernel();
  kgtest::temp_dir dir;
  auto owner = kg::kernel_session::start({.work_dir = dir.path()});
  (void)owner.execute("shared = 'from owner'");
  {
    auto ex = kg::make_kernel_executor({.connection_file = owner.connection_file(), .work_dir = dir.path()});
    auto r = ex->execute({py("print(shared)")});
    CHECK(r.output == "from owner\n");
    ex->stop();
  }
  CHECK(owner.alive());
  auto r = owner.execute("print(shared)");
  REQUIRE(r.outputs.size() == 1);
  CHECK(r.outputs[0].text == "from owner\n");
}

TEST_CASE("a missing kernelspec fails the factory with no_such_kernel") {
  try {
    (void)kg::make_kernel_executor({.kernel = "definitely-not-installed"});
    FAIL("should throw");
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::no_such_kernel);
  }
}
