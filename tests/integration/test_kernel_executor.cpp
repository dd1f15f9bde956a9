// The kernel executor (code_executor over a real ipykernel): what is particular to the ZeroMQ
// backend. The behaviour every backend shares (state, languages, errors, rich outputs, timeouts,
// streaming, cancellation, kernel death) is the conformance suite (test_kernel_conformance.cpp).

#include "kernelgate/exec/kernel_executor.hpp"
#include "kernelgate/exec/markdown.hpp"
#include "kernelgate/kernel/kernel_session.hpp"
#include "ipykernel_support.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace std::chrono_literals;
namespace kg = kernelgate;

namespace {

kg::code_block py(std::string code) { return {"python", std::move(code)}; }

}  // namespace

TEST_CASE("a kernel executor: no code files, shell blocks run in the work dir") {
  kgtest::require_ipykernel();
  kgtest::temp_dir dir;
  auto ex = kg::make_kernel_executor({.work_dir = dir.path()});
  CHECK(ex->kind() == kg::backend::kernel);
  auto r = ex->execute({py("x = 41"), py("print(x + 1)")});
  CHECK(r.output == "42\n");
  CHECK_FALSE(r.code_file.has_value());  // code goes to the kernel, not into files
  auto sh = ex->execute({{"sh", "echo from-shell; pwd"}});
  CHECK(sh.exit_code == 0);
  CHECK(sh.output == "from-shell\n" + dir.path().string() + "\n");
}

TEST_CASE("the seed example runs, and the file its code saves is listed in output_files") {
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
}

TEST_CASE("a kernel killed by a signal: the output names the signal") {
  kgtest::require_ipykernel();
  kgtest::temp_dir dir;
  auto ex = kg::make_kernel_executor({.work_dir = dir.path()});
  auto r = ex->execute({py("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")});
  CHECK(r.exit_code != 0);
  CHECK(r.output.find("signal 9") != std::string::npos);
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
