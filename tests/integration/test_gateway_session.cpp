// Kernels through jupyter-server's WebSocket: the kernel client over the gateway transport, with
// drops, a killed server, a deleted kernel, and many sessions at once.

#include "gateway_server.hpp"
#include "kernelgate/client/kernel_client.hpp"
#include "kernelgate/error.hpp"
#include "kernelgate/gateway/gateway_client.hpp"
#include "kernelgate/gateway/gateway_transport.hpp"

#include <algorithm>
#include <future>
#include <thread>

namespace kg = kernelgate;
using namespace std::chrono_literals;

namespace {

std::string stdout_of(const kg::execute_reply& r) {
  std::string text;
  for (const auto& o : r.outputs) {
    if (o.kind == kg::output_kind::stream && o.name == "stdout") text += o.text;
  }
  return text;
}

struct session {
  kg::gateway_client rest;
  kg::gateway_kernel kernel;
  std::unique_ptr<kg::kernel_client> client;

  session(const kgtest::gateway_server& server, kg::gateway_transport_options t = {}, std::string url = {})
      : rest({.url = server.url(), .token = server.token()}), kernel(rest.start_kernel({.name = "python3"})) {
    t.gateway = {.url = url.empty() ? server.url() : url, .token = server.token()};
    t.kernel_id = kernel.id;
    client = std::make_unique<kg::kernel_client>(kg::make_gateway_transport(t));
    (void)client->wait_for_ready(60s);
  }
};


}  // namespace

TEST_CASE("execute, state, errors, completion and inspection over the v1 and the legacy framing") {
  // The large stream below checks framing, not jupyter-server's IOPub rate limit, which drops a
  // burst like it when the server's rate window has just begun.
  kgtest::gateway_server server({.extra_args = {"--ServerApp.iopub_data_rate_limit=0"}});
  for (auto protocol : {kg::gateway_ws_protocol::prefer_v1, kg::gateway_ws_protocol::legacy_only}) {
    CAPTURE(static_cast<int>(protocol));
    session s(server, {.protocol = protocol});
    auto& c = *s.client;
    CHECK(c.transport().describe().find("/api/kernels/" + s.kernel.id + "/channels") != std::string::npos);
    CHECK(c.transport().describe().find(server.token()) == std::string::npos);

    const auto r1 = c.execute("x = 20\nprint('hello')", 30s);
    CHECK(r1.status == kg::reply_status::ok);
    CHECK(stdout_of(r1) == "hello\n");
    const auto r2 = c.execute("x * 2 + 2", 30s);
    REQUIRE(r2.outputs.size() == 1);
    CHECK(r2.outputs[0].kind == kg::output_kind::execute_result);
    CHECK(r2.outputs[0].text == "42");

    const auto r3 = c.execute("1/0", 30s);
    CHECK(r3.status == kg::reply_status::error);
    CHECK(r3.ename == "ZeroDivisionError");

    // A binary buffer travels in the frame (display of bytes via a comm is overkill; a large
    // stream with non-ASCII text checks the framing instead).
    const auto r4 = c.execute("print('é' * 100000)", 30s);
    CHECK(stdout_of(r4) == [] {
      std::string e;
      for (int i = 0; i < 100000; ++i) e += "é";
      return e + "\n";
    }());

    const auto comp = c.complete("import o", 8, 30s);
    CHECK(std::find(comp.matches.begin(), comp.matches.end(), "os") != comp.matches.end());
    const auto insp = c.inspect("len", 3, 0, 30s);
    CHECK(insp.found);

    std::vector<std::string> asked;
    kg::execute_request req{.code = "name = input('who? ')\nprint('hi', name)"};
    req.on_input = [&](const kg::input_prompt& p) {
      asked.push_back(p.prompt);
      return std::string("ada");
    };
    const auto r5 = c.execute(req, 30s);
    CHECK(asked == std::vector<std::string>{"who? "});
    CHECK(stdout_of(r5) == "hi ada\n");
    s.client->close();
    s.rest.delete_kernel(s.kernel.id);
  }
}

TEST_CASE("a WebSocket cut mid-execution is restored and the execution completes with all its output") {
  kgtest::gateway_server server;
  kgtest::tcp_proxy proxy(server.port());
  session s(server, {}, "http://127.0.0.1:" + std::to_string(proxy.port()));
  // The proxy's connection count shows the reconnect; the output shows nothing was lost.
  const int before = proxy.connections();
  auto pending = s.client->execute_async(
      {.code = "import time\nfor i in range(40):\n    print(i, flush=True)\n    time.sleep(0.05)\n"});
  std::this_thread::sleep_for(500ms);  // test-side: let some output through before the cut
  proxy.cut();
  REQUIRE(pending.wait(60s));
  const auto r = pending.result();
  CHECK(r.status == kg::reply_status::ok);
  std::string expected;
  for (int i = 0; i < 40; ++i) expected += std::to_string(i) + "\n";
  CHECK(stdout_of(r) == expected);
  CHECK(proxy.connections() > before);
  // And the session keeps working.
  CHECK(stdout_of(s.client->execute("print('after')", 30s)) == "after\n");
}

TEST_CASE("the server killed mid-execution: a clear error well within the deadline, no hang") {
  kgtest::gateway_server server;
  session s(server, {.max_reconnect_attempts = 3, .first_reconnect_pause = 50ms});
  auto pending = s.client->execute_async({.code = "import time\ntime.sleep(60)"});
  std::this_thread::sleep_for(300ms);
  server.kill();
  const auto e = kgtest::error_from([&] { (void)pending.wait(50s); });
  CHECK(e.condition() == kg::errc::kernel_died);
  CHECK(std::string(e.what()).find("WebSocket") != std::string::npos);
  CHECK(kgtest::error_from([&] { (void)s.client->execute("1", 5s); }).condition() == kg::errc::kernel_died);
}

TEST_CASE("the kernel deleted under the client: a clear error, not a hang") {
  kgtest::gateway_server server;
  session s(server);
  auto pending = s.client->execute_async({.code = "import time\ntime.sleep(60)"});
  std::this_thread::sleep_for(300ms);
  s.rest.delete_kernel(s.kernel.id);
  // jupyter-server interrupts the kernel before shutting it down, so the running execution may end
  // with KeyboardInterrupt; either way the wait ends, and nothing afterwards can hang.
  try {
    if (pending.wait(50s)) CHECK(pending.result().status == kg::reply_status::error);
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::kernel_died);
  }
  const auto e = kgtest::error_from([&] { (void)s.client->execute("1", 50s); });
  CHECK(e.condition() == kg::errc::kernel_died);
  const std::string what = e.what();
  CHECK(what.find("404") != std::string::npos);
  CHECK(what.find(s.kernel.id) != std::string::npos);
}

TEST_CASE("connecting to an unknown kernel or with a bad token fails at once with the status") {
  kgtest::gateway_server server;
  const auto unknown = kgtest::error_from([&] {
    (void)kg::make_gateway_transport({.gateway = {.url = server.url(), .token = server.token()},
                                      .kernel_id = "00000000-0000-0000-0000-000000000000"});
  });
  CHECK(unknown.http_status() == 404);
  kg::gateway_client rest({.url = server.url(), .token = server.token()});
  const auto k = rest.start_kernel();
  const auto forbidden = kgtest::error_from([&] {
    (void)kg::make_gateway_transport({.gateway = {.url = server.url(), .token = "nope"}, .kernel_id = k.id});
  });
  CHECK((forbidden.http_status() == 403 || forbidden.http_status() == 401));
  CHECK(std::string(forbidden.what()).find("nope") == std::string::npos);
  rest.delete_kernel(k.id);
}

TEST_CASE("eight gateway sessions at once, each with its own state") {
  kgtest::gateway_server server;
  constexpr int n = 8;
  std::vector<std::future<std::string>> results;
  for (int i = 0; i < n; ++i) {
    results.push_back(std::async(std::launch::async, [&server, i] {
      session s(server);
      (void)s.client->execute("v = " + std::to_string(i), 60s);
      auto r = s.client->execute("print(v * 10)", 60s);
      s.client->close();
      s.rest.delete_kernel(s.kernel.id);
      return stdout_of(r);
    }));
  }
  for (int i = 0; i < n; ++i) CHECK(results[static_cast<std::size_t>(i)].get() == std::to_string(i * 10) + "\n");
}

TEST_CASE("wss: the WebSocket over TLS verifies the server like REST does") {
  kgtest::test_pki pki;
  kgtest::gateway_server server({.certfile = pki.server_cert, .keyfile = pki.server_key});
  kg::gateway_client rest({.url = server.url(), .token = server.token(), .ca_file = pki.ca_cert});
  const auto k = rest.start_kernel();
  {
    kg::kernel_client client(kg::make_gateway_transport(
        {.gateway = {.url = server.url(), .token = server.token(), .ca_file = pki.ca_cert}, .kernel_id = k.id}));
    (void)client.wait_for_ready(60s);
    CHECK(stdout_of(client.execute("print('over tls')", 30s)) == "over tls\n");
  }
  const auto e = kgtest::error_from([&] {
    (void)kg::make_gateway_transport(
        {.gateway = {.url = server.url(), .token = server.token(), .ca_file = pki.other_ca_cert}, .kernel_id = k.id});
  });
  CHECK(e.condition() == kg::errc::tls_error);
  rest.delete_kernel(k.id);
}
