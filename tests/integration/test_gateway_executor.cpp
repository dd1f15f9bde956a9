// The gateway executor against a real jupyter-server: the shared executor conformance suite, plus
// what only a gateway has (kernel lifetime on the server, attaching by id, tokens).

#include "conformance.hpp"
#include "gateway_server.hpp"
#include "kernelgate/error.hpp"
#include "kernelgate/exec/gateway_executor.hpp"
#include "kernelgate/gateway/gateway_client.hpp"

namespace kg = kernelgate;
using namespace std::chrono_literals;

namespace {

struct gateway_fixture {
  kgtest::gateway_server server;
  std::unique_ptr<kg::code_executor> make(std::chrono::milliseconds timeout, std::chrono::milliseconds grace) {
    return kg::make_gateway_executor(
        {.gateway = {.url = server.url(), .token = server.token()}, .timeout = timeout, .interrupt_grace = grace});
  }
};

}  // namespace

KERNELGATE_CONFORMANCE_CASES("gateway", gateway_fixture)

TEST_CASE("the executor creates its kernel on the gateway and deletes it on stop") {
  kgtest::gateway_server server;
  kg::gateway_client rest({.url = server.url(), .token = server.token()});
  auto ex = kg::make_gateway_executor({.gateway = {.url = server.url(), .token = server.token()}});
  CHECK(ex->kind() == kg::backend::gateway);
  CHECK(rest.list_kernels().size() == 1);
  CHECK(ex->execute({{"python", "print(6 * 7)"}}).output == "42\n");
  ex->stop();
  CHECK(rest.list_kernels().empty());
  CHECK_THROWS_AS((void)ex->execute({{"python", "1"}}), kg::error);
}

TEST_CASE("attached by kernel id: runs in that kernel, and stop() leaves it running") {
  kgtest::gateway_server server;
  kg::gateway_client rest({.url = server.url(), .token = server.token()});
  const auto k = rest.start_kernel();
  {
    auto first = kg::make_gateway_executor({.gateway = {.url = server.url(), .token = server.token()}, .kernel_id = k.id});
    CHECK(first->execute({{"python", "shared = 'from first'"}}).exit_code == 0);
    first->stop();
  }
  auto second = kg::make_gateway_executor({.gateway = {.url = server.url(), .token = server.token()}, .kernel_id = k.id});
  CHECK(second->execute({{"python", "print(shared)"}}).output == "from first\n");
  CHECK_THROWS_AS(second->restart(), kg::error);
  second->stop();
  CHECK(rest.kernel(k.id).id == k.id);
  rest.delete_kernel(k.id);
}

TEST_CASE("a bad token or an unknown kernel id fails the factory clearly, leaving nothing behind") {
  kgtest::gateway_server server;
  try {
    (void)kg::make_gateway_executor({.gateway = {.url = server.url(), .token = "wrong"}});
    FAIL("should throw");
  } catch (const kg::error& e) {
    CHECK(e.http_status() == 403);
    CHECK(std::string(e.what()).find("wrong") == std::string::npos);
  }
  try {
    (void)kg::make_gateway_executor(
        {.gateway = {.url = server.url(), .token = server.token()}, .kernel_id = "00000000-0000-0000-0000-000000000000"});
    FAIL("should throw");
  } catch (const kg::error& e) {
    CHECK(e.http_status() == 404);
  }
  try {
    (void)kg::make_gateway_executor({.gateway = {.url = server.url(), .token = server.token()}, .kernel = "no-such-spec"});
    FAIL("should throw");
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::http_status);
  }
  kg::gateway_client rest({.url = server.url(), .token = server.token()});
  CHECK(rest.list_kernels().empty());
}
