// The gateway's URL, token and header handling, and how server errors are worded (no sockets).

#include "gateway/endpoint.hpp"
#include "kernelgate/error.hpp"
#include "support.hpp"
#include "unit/wire_support.hpp"

#include <cstdlib>

namespace kg = kernelgate;
using kg::detail::parse_base_url;

namespace {

kg::errc condition_of(auto&& fn) { return kgtest::error_from(fn).condition(); }
std::string message_of(auto&& fn) { return kgtest::error_from(fn).what(); }

}  // namespace

TEST_CASE("base URLs are split into scheme, host, port and prefix") {
  auto u = parse_base_url("http://127.0.0.1:8888");
  CHECK_FALSE(u.tls);
  CHECK(u.host == "127.0.0.1");
  CHECK(u.port == "8888");
  CHECK(u.prefix.empty());

  u = parse_base_url("HTTPS://gw.example/user/ana/");
  CHECK(u.tls);
  CHECK(u.host == "gw.example");
  CHECK(u.port == "443");
  CHECK(u.prefix == "/user/ana");
  CHECK(u.display() == "https://gw.example:443/user/ana");

  u = parse_base_url("http://[::1]:9000/p");
  CHECK(u.host == "::1");
  CHECK(u.port == "9000");
  CHECK(u.host_header() == "[::1]:9000");

  CHECK(parse_base_url("ws://h").port == "80");
  CHECK(parse_base_url("wss://h:1").tls);
}

TEST_CASE("bad base URLs are refused with a clear message and without echoing secrets") {
  for (const char* bad : {"127.0.0.1:8888", "ftp://h", "http://", "http://h:0", "http://h:65536", "http://h:x",
                          "http://[::1", "http://:80"}) {
    CAPTURE(bad);
    CHECK(condition_of([&] { (void)parse_base_url(bad); }) == kg::errc::invalid_argument);
  }
  const auto q = message_of([] { (void)parse_base_url("http://h:1/?token=s3cret"); });
  CHECK(q.find("query") != std::string::npos);
  CHECK(q.find("s3cret") == std::string::npos);
  const auto at = message_of([] { (void)parse_base_url("http://user:s3cret@h:1/"); });
  CHECK(at.find("s3cret") == std::string::npos);
}

TEST_CASE("kernel ids that could change the request path are refused") {
  CHECK_NOTHROW(kg::detail::check_kernel_id("0b6f2a62-6f0e-4d5b-a6a4-3e1f3b8c4a10"));
  for (const char* bad : {"", "../api", "a/b", "a?b", "a b", "%2e%2e"}) {
    CAPTURE(bad);
    CHECK(condition_of([&] { kg::detail::check_kernel_id(bad); }) == kg::errc::invalid_argument);
  }
}

TEST_CASE("the token comes from the option, else from KERNELGATE_GATEWAY_TOKEN; empty means none") {
  ::setenv("KERNELGATE_GATEWAY_TOKEN", "from-env", 1);
  CHECK(kg::detail::make_endpoint({.url = "http://h:1"}).authorization == "token from-env");
  CHECK(kg::detail::make_endpoint({.url = "http://h:1", .token = "opt"}).authorization == "token opt");
  CHECK(kg::detail::make_endpoint({.url = "http://h:1", .token = ""}).authorization.empty());
  ::unsetenv("KERNELGATE_GATEWAY_TOKEN");
  CHECK(kg::detail::make_endpoint({.url = "http://h:1"}).authorization.empty());

  const auto m = message_of([] { (void)kg::detail::make_endpoint({.url = "http://h:1", .token = "se\ncret"}); });
  CHECK(m.find("line break") != std::string::npos);
  CHECK(m.find("cret") == std::string::npos);
}

TEST_CASE("extra headers are checked, and timeouts must be positive") {
  const auto ep = kg::detail::make_endpoint({.url = "http://h:1", .headers = {{"X-Team", "blue"}}});
  REQUIRE(ep.headers.size() == 1);
  CHECK(ep.headers[0].first == "X-Team");
  CHECK(condition_of([] { (void)kg::detail::make_endpoint({.url = "http://h:1", .headers = {{"X:Y", "v"}}}); }) ==
        kg::errc::invalid_argument);
  CHECK(condition_of([] { (void)kg::detail::make_endpoint({.url = "http://h:1", .headers = {{"X", "a\r\nB: c"}}}); }) ==
        kg::errc::invalid_argument);
  CHECK(condition_of([] {
          (void)kg::detail::make_endpoint({.url = "http://h:1", .token = "t", .headers = {{"authorization", "x"}}});
        }) == kg::errc::invalid_argument);
  CHECK(condition_of([] {
          (void)kg::detail::make_endpoint({.url = "http://h:1", .connect_timeout = std::chrono::milliseconds(0)});
        }) == kg::errc::invalid_argument);
}

TEST_CASE("HTTPS endpoints get a TLS context; a CA file that cannot be read is refused") {
  CHECK(kg::detail::make_endpoint({.url = "https://h"}).tls != nullptr);
  CHECK(kg::detail::make_endpoint({.url = "http://h"}).tls == nullptr);
  kgtest::temp_dir dir;
  kgtest::write_file(dir.path() / "junk.pem", "not a certificate\n");
  for (const auto& f : {dir.path() / "missing.pem", dir.path() / "junk.pem"}) {
    const auto m = message_of([&] { (void)kg::detail::make_endpoint({.url = "https://h", .ca_file = f}); });
    CHECK(m.find(f.filename().string()) != std::string::npos);
  }
  CHECK_NOTHROW((void)kg::detail::make_endpoint(
      {.url = "https://h", .ca_file = dir.path() / "missing.pem", .tls = kg::tls_verification::insecure}));
}

TEST_CASE("server error bodies are reduced to their message") {
  CHECK(kg::detail::server_message(R"({"message": "Kernel does not exist: x", "reason": null})") ==
        "Kernel does not exist: x");
  CHECK(kg::detail::server_message(R"({"reason": "Forbidden"})") == "Forbidden");
  CHECK(kg::detail::server_message("<html>\nnope</html>") == "<html> nope</html>");
  CHECK(kg::detail::status_hint(403).find("token") != std::string::npos);
  CHECK(kg::detail::status_hint(404).find("kernel") != std::string::npos);
  CHECK(kg::detail::status_hint(200).empty());
}
