#include <doctest/doctest.h>

#include "docker/protocol.hpp"
#include "kernelgate/error.hpp"

#include <cstdlib>
#include <string>
#include <vector>

namespace kg = kernelgate;
namespace dd = kernelgate::docker::detail;

namespace {
std::string frame(unsigned char type, const std::string& payload) {
  return dd::encode_frame(static_cast<dd::stream_id>(type), payload);
}

struct collected {
  std::vector<std::pair<std::string, std::string>> parts;  // merged per consecutive stream
  void add(dd::stream_id id, std::string_view data) {
    const std::string name(dd::stream_name(id));
    if (!parts.empty() && parts.back().first == name) {
      parts.back().second.append(data);
    } else {
      parts.emplace_back(name, std::string(data));
    }
  }
};
}  // namespace

TEST_CASE("DOCKER_HOST: unix sockets only, with a clear error otherwise") {
  CHECK(dd::socket_path_from_host("unix:///var/run/docker.sock") == "/var/run/docker.sock");
  CHECK(dd::socket_path_from_host("unix:///run/user/1000/docker.sock") == "/run/user/1000/docker.sock");
  try {
    (void)dd::socket_path_from_host("tcp://127.0.0.1:2375");
    FAIL("tcp:// accepted");
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::invalid_argument);
    CHECK(std::string(e.what()).find("unix://") != std::string::npos);
  }
  CHECK_THROWS_AS((void)dd::socket_path_from_host("unix://"), kg::error);
  CHECK_THROWS_AS((void)dd::socket_path_from_host("unix://relative.sock"), kg::error);
}

TEST_CASE("the host comes from the option, then DOCKER_HOST, then the default socket") {
  const char* saved = std::getenv("DOCKER_HOST");
  const std::string saved_value = saved != nullptr ? saved : "";
  ::unsetenv("DOCKER_HOST");
  CHECK(dd::resolve_host("") == "unix:///var/run/docker.sock");
  ::setenv("DOCKER_HOST", "unix:///tmp/other.sock", 1);
  CHECK(dd::resolve_host("") == "unix:///tmp/other.sock");
  CHECK(dd::resolve_host("unix:///x.sock") == "unix:///x.sock");
  if (saved != nullptr) {
    ::setenv("DOCKER_HOST", saved_value.c_str(), 1);
  } else {
    ::unsetenv("DOCKER_HOST");
  }
}

TEST_CASE("API version negotiation follows min(client max, server), raised to the server's minimum") {
  CHECK(dd::negotiate_api_version({{"ApiVersion", "1.41"}, {"MinAPIVersion", "1.12"}}) == "1.41");
  CHECK(dd::negotiate_api_version({{"ApiVersion", "1.53"}, {"MinAPIVersion", "1.24"}}) == dd::client_max_api);
  // Engine 29.0-29.2 refuse anything below 1.44 by default.
  CHECK(dd::negotiate_api_version({{"ApiVersion", "1.53"}, {"MinAPIVersion", "1.48"}}) == "1.48");
  CHECK(dd::negotiate_api_version({{"ApiVersion", "1.40"}}) == "1.40");
  CHECK_THROWS_AS((void)dd::negotiate_api_version({{"ApiVersion", "1.30"}}), kg::error);
  CHECK_THROWS_AS((void)dd::negotiate_api_version({{"Version", "20.10"}}), kg::error);
  CHECK_THROWS_AS((void)dd::negotiate_api_version(nlohmann::json::array()), kg::error);
  CHECK_FALSE(dd::parse_api_version("1.").has_value());
  CHECK_FALSE(dd::parse_api_version("1.4x").has_value());
  CHECK(dd::parse_api_version("1.41") == std::pair{1, 41});
}

TEST_CASE("the demuxer keeps stream names and survives any chunking") {
  const std::string wire = frame(1, "hello ") + frame(2, "oops\n") + frame(1, "world\n") + frame(1, "") +
                           frame(3, "daemon error");
  for (std::size_t chunk = 1; chunk <= wire.size(); ++chunk) {
    collected got;
    dd::frame_demuxer d([&](dd::stream_id id, std::string_view data) { got.add(id, data); });
    for (std::size_t i = 0; i < wire.size(); i += chunk) d.feed(std::string_view(wire).substr(i, chunk));
    CHECK_FALSE(d.mid_frame());
    REQUIRE(got.parts.size() == 4);
    CHECK(got.parts[0] == std::pair<std::string, std::string>{"stdout", "hello "});
    CHECK(got.parts[1] == std::pair<std::string, std::string>{"stderr", "oops\n"});
    CHECK(got.parts[2].first == "stdout");
    CHECK(got.parts[2].second == "world\n");
    // the daemon's own error text (stream 3) is reported as stderr
    CHECK(got.parts[3] == std::pair<std::string, std::string>{"stderr", "daemon error"});
    CHECK(d.payload_bytes() == 6 + 5 + 6 + 12);
  }
}

TEST_CASE("a stream cut inside a frame is noticed; a Tty stream is rejected") {
  dd::frame_demuxer d([](dd::stream_id, std::string_view) {});
  d.feed(frame(1, "abcdef").substr(0, 10));
  CHECK(d.mid_frame());
  dd::frame_demuxer tty([](dd::stream_id, std::string_view) {});
  try {
    tty.feed("Python 3.11 output without framing");
    FAIL("unframed bytes accepted");
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::protocol_error);
  }
}

TEST_CASE("large frames are delivered in pieces as they arrive") {
  const std::string payload(100000, 'x');
  const std::string wire = frame(1, payload);
  std::size_t calls = 0, bytes = 0;
  dd::frame_demuxer d([&](dd::stream_id, std::string_view data) {
    ++calls;
    bytes += data.size();
  });
  for (std::size_t i = 0; i < wire.size(); i += 4096) d.feed(std::string_view(wire).substr(i, 4096));
  CHECK(bytes == payload.size());
  CHECK(calls > 1);
}

TEST_CASE("query strings, image references and label filters") {
  CHECK(dd::url_encode("a b/c=d") == "a%20b%2Fc%3Dd");
  CHECK(dd::query_string({}).empty());
  CHECK(dd::query_string({{"force", "1"}, {"name", "x y"}}) == "?force=1&name=x%20y");
  CHECK(dd::split_image_reference("python:3-slim") == std::pair<std::string, std::string>{"python", "3-slim"});
  CHECK(dd::split_image_reference("python") == std::pair<std::string, std::string>{"python", "latest"});
  CHECK(dd::split_image_reference("reg:5000/team/img") ==
        std::pair<std::string, std::string>{"reg:5000/team/img", "latest"});
  CHECK(dd::split_image_reference("reg:5000/img:1.2") == std::pair<std::string, std::string>{"reg:5000/img", "1.2"});
  CHECK(dd::split_image_reference("img@sha256:abc").second.empty());
  CHECK(nlohmann::json::parse(dd::label_filters({{"io.kernelgate", ""}, {"io.kernelgate.pid", "42"}})) ==
        nlohmann::json{{"label", {"io.kernelgate", "io.kernelgate.pid=42"}}});
}

TEST_CASE("daemon error bodies become short readable messages") {
  CHECK(dd::error_message_from_body("application/json", R"({"message":"No such image: x:1"})") ==
        "No such image: x:1");
  CHECK(dd::error_message_from_body("text/plain", "  page not found\n") == "page not found");
  CHECK(dd::error_message_from_body("application/json", "{broken") == "{broken");
  CHECK(dd::error_message_from_body("", "") == "(empty body)");
  CHECK(dd::error_message_from_body("text/plain", std::string(10000, 'e')).size() < 5000);
}

TEST_CASE("pull progress lines are split across chunks") {
  dd::json_line_splitter s;
  std::vector<std::string> lines;
  const auto on = [&](std::string_view l) { lines.emplace_back(l); };
  s.feed("{\"status\":\"a\"}\r\n{\"sta", on);
  s.feed("tus\":\"b\"}\r\n\r\n{\"x\":1}", on);
  CHECK(lines == std::vector<std::string>{R"({"status":"a"})", R"({"status":"b"})"});
  CHECK(s.rest() == R"({"x":1})");
}
