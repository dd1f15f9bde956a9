// The fallback chain: the first backend that starts wins, and the reasons of the others are kept.
#include <doctest/doctest.h>

#include "kernelgate/error.hpp"
#include "kernelgate/exec/make_executor.hpp"
#include "support.hpp"

namespace kg = kernelgate;

TEST_CASE("the chain falls back to local when no kernel can start, and says why") {
  kgtest::temp_dir dir;
  kg::executor_options options;
  options.chain = {kg::backend::kernel, kg::backend::local};
  options.kernel.kernel = "kernelgate-no-such-kernel";
  options.work_dir = dir.path();
  auto choice = kg::make_executor(std::move(options));
  REQUIRE(choice.executor);
  CHECK(choice.chosen == kg::backend::local);
  CHECK(choice.executor->kind() == kg::backend::local);
  REQUIRE(choice.skipped.size() == 1);
  CHECK(choice.skipped[0].which == kg::backend::kernel);
  CHECK(choice.skipped[0].reason.find("kernelgate-no-such-kernel") != std::string::npos);
  CHECK(choice.explain().find("local: chosen") != std::string::npos);
  const auto r = choice.executor->execute({{"python", "print('fallback works')"}});
  CHECK(r.exit_code == 0);
  CHECK(r.output == "fallback works\n");
}

TEST_CASE("a chain where nothing starts is one clear error listing every reason") {
  kg::executor_options options;
  options.chain = {kg::backend::kernel, kg::backend::docker};
  options.kernel.kernel = "kernelgate-no-such-kernel";
  options.docker.docker_host = "unix:///nonexistent/kernelgate-docker.sock";
  try {
    (void)kg::make_executor(std::move(options));
    FAIL("make_executor should throw");
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::no_executor_available);
    const std::string what = e.what();
    CHECK(what.find("kernel: skipped") != std::string::npos);
    CHECK(what.find("docker: skipped") != std::string::npos);
    CHECK(what.find("kernelgate-docker.sock") != std::string::npos);
  }
  CHECK_THROWS_AS((void)kg::make_executor({.chain = {}}), kg::error);
}

TEST_CASE("a chain of one backend reports that backend's own error") {
  kg::executor_options options;
  options.chain = {kg::backend::kernel};
  options.kernel.kernel = "kernelgate-no-such-kernel";
  try {
    (void)kg::make_executor(std::move(options));
    FAIL("make_executor should throw");
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::no_such_kernel);
  }
}

TEST_CASE("the kernel is chosen first when it can start, and state persists across calls") {
  kgtest::require_service(std::filesystem::exists("/usr/share/jupyter/kernels/python3/kernel.json"),
                          "the python3 kernelspec (python3-ipykernel)");
  kgtest::temp_dir dir;
  auto choice = kg::make_executor({.work_dir = dir.path()});
  CHECK(choice.chosen == kg::backend::kernel);
  CHECK(choice.skipped.empty());
  CHECK(choice.executor->execute({{"python", "x = 41"}}).exit_code == 0);
  CHECK(choice.executor->execute({{"python", "print(x + 1)"}}).output == "42\n");
}
