// The gateway REST client against a real jupyter-server: kernels API, tokens, TLS, failures.

#include "gateway_server.hpp"
#include "kernelgate/error.hpp"
#include "kernelgate/gateway/gateway_client.hpp"

#include <algorithm>

namespace kg = kernelgate;
using namespace std::chrono_literals;

TEST_CASE("the kernels API: specs, start, get, list, interrupt, restart, delete") {
  kgtest::gateway_server server;
  kg::gateway_client client({.url = server.url(), .token = server.token()});

  CHECK(client.api_info().at("version").get<std::string>().find('.') != std::string::npos);

  const auto specs = client.kernelspecs();
  CHECK(specs.default_name == "python3");
  const auto py = std::find_if(specs.specs.begin(), specs.specs.end(), [](const auto& s) { return s.name == "python3"; });
  REQUIRE(py != specs.specs.end());
  CHECK(py->language == "python");

  const auto k = client.start_kernel({.name = "python3"});
  CHECK(k.name == "python3");
  CHECK_FALSE(k.id.empty());
  CHECK(client.kernel(k.id).id == k.id);
  const auto all = client.list_kernels();
  CHECK(std::any_of(all.begin(), all.end(), [&](const auto& m) { return m.id == k.id; }));

  client.interrupt_kernel(k.id);
  const auto restarted = client.restart_kernel(k.id);
  CHECK(restarted.id == k.id);

  client.delete_kernel(k.id);
  const auto gone = kgtest::error_from([&] { (void)client.kernel(k.id); });
  CHECK(gone.condition() == kg::errc::http_status);
  CHECK(gone.http_status() == 404);
  CHECK(std::string(gone.what()).find(k.id) != std::string::npos);
  const auto again = kgtest::error_from([&] { client.delete_kernel(k.id); });
  CHECK(again.http_status() == 404);
}

TEST_CASE("a wrong token gives a clear 403 that does not reveal any token") {
  kgtest::gateway_server server;
  const std::string wrong = "wrong-" + kg::random_hex_id();
  kg::gateway_client client({.url = server.url(), .token = wrong});
  const auto e = kgtest::error_from([&] { (void)client.kernelspecs(); });
  CHECK(e.condition() == kg::errc::http_status);
  CHECK(e.http_status() == 403);
  const std::string what = e.what();
  CHECK(what.find("token") != std::string::npos);
  CHECK(what.find(wrong) == std::string::npos);
  CHECK(what.find(server.token()) == std::string::npos);

  // The token can also come from the environment.
  ::setenv("KERNELGATE_GATEWAY_TOKEN", server.token().c_str(), 1);
  kg::gateway_client from_env({.url = server.url()});
  CHECK_FALSE(from_env.kernelspecs().specs.empty());
  ::unsetenv("KERNELGATE_GATEWAY_TOKEN");
}

TEST_CASE("an unknown path prefix is a 404 that says so") {
  kgtest::gateway_server server;
  kg::gateway_client client({.url = server.url() + "/no/such/prefix", .token = server.token()});
  const auto e = kgtest::error_from([&] { (void)client.kernelspecs(); });
  CHECK(e.http_status() == 404);
  CHECK(std::string(e.what()).find("/no/such/prefix/api/kernelspecs") != std::string::npos);
}

TEST_CASE("nothing listening: a bounded number of attempts, then connection_failed") {
  int port = 0;
  {
    kgtest::gateway_server server;
    port = server.port();
  }
  kg::gateway_client client(
      {.url = "http://127.0.0.1:" + std::to_string(port), .token = "t", .connect_retries = 2, .retry_backoff = 10ms});
  const auto e = kgtest::error_from([&] { (void)client.api_info(); });
  CHECK(e.condition() == kg::errc::connection_failed);
  CHECK(std::string(e.what()).find("3 attempts") != std::string::npos);
}

TEST_CASE("HTTPS: verified against the test CA; a wrong CA or the system store fails clearly") {
  kgtest::test_pki pki;
  kgtest::gateway_server server({.certfile = pki.server_cert, .keyfile = pki.server_key});
  REQUIRE(server.url().rfind("https://", 0) == 0);

  kg::gateway_client good({.url = server.url(), .token = server.token(), .ca_file = pki.ca_cert});
  CHECK_FALSE(good.kernelspecs().specs.empty());

  kg::gateway_client wrong_ca({.url = server.url(), .token = server.token(), .ca_file = pki.other_ca_cert});
  const auto e = kgtest::error_from([&] { (void)wrong_ca.kernelspecs(); });
  CHECK(e.condition() == kg::errc::tls_error);
  const std::string what = e.what();
  CHECK(what.find("certificate") != std::string::npos);
  CHECK(what.find("--ca-file") != std::string::npos);

  kg::gateway_client system_store({.url = server.url(), .token = server.token()});
  CHECK(kgtest::error_from([&] { (void)system_store.api_info(); }).condition() == kg::errc::tls_error);

  // The certificate names 127.0.0.1 only: reaching the same server as "localhost" must fail.
  std::string by_name = server.url();
  by_name.replace(by_name.find("127.0.0.1"), 9, "localhost");
  kg::gateway_client wrong_name({.url = by_name, .token = server.token(), .ca_file = pki.ca_cert});
  CHECK(kgtest::error_from([&] { (void)wrong_name.api_info(); }).condition() == kg::errc::tls_error);

  kg::gateway_client insecure({.url = server.url(), .token = server.token(), .tls = kg::tls_verification::insecure});
  CHECK_FALSE(insecure.kernelspecs().specs.empty());

  // Plain HTTP to an HTTPS port is a clear failure, not a hang.
  std::string plain = server.url();
  plain.replace(0, 5, "http");
  kg::gateway_client wrong_scheme({.url = plain, .token = server.token(), .request_timeout = 10s});
  const auto s = kgtest::error_from([&] { (void)wrong_scheme.api_info(); });
  CHECK((s.condition() == kg::errc::connection_failed || s.condition() == kg::errc::http_status));
}
