#include <doctest/doctest.h>

#include "kernelgate/docker/client.hpp"
#include "kernelgate/error.hpp"
#include "support.hpp"
#include "test_docker_support.hpp"

#include <unistd.h>

#include <optional>
#include <string>

namespace kg = kernelgate;
namespace kd = kernelgate::docker;
using namespace std::chrono_literals;

namespace {

const std::string& test_image = kgtest::docker_test_image;

kd::client& daemon() { return kgtest::docker_daemon(); }

// A container that is removed when the test ends, pass or fail.
struct scoped_container {
  std::string id;
  explicit scoped_container(const nlohmann::json& config) : id(daemon().create_container(config)) {}
  scoped_container(const scoped_container&) = delete;
  scoped_container& operator=(const scoped_container&) = delete;
  ~scoped_container() {
    try {
      daemon().remove_container(id);
    } catch (...) {
    }
  }
};

nlohmann::json sleeper_config(const std::string& marker) {
  return {{"Image", test_image},
          {"Entrypoint", {"tail", "-f", "/dev/null"}},
          {"Labels", {{"io.kernelgate.test", marker}}},
          {"HostConfig", {{"NetworkMode", "none"}, {"Init", true}}}};
}

std::string marker() { return "client-" + std::to_string(::getpid()); }

}  // namespace

TEST_CASE("the client negotiates a version and sees the test image") {
  auto& c = daemon();
  CHECK_FALSE(c.api_version().empty());
  CHECK(c.version().contains("ApiVersion"));
  CHECK(c.inspect_image(test_image).has_value());
  CHECK_FALSE(c.inspect_image("kernelgate-no-such-image:never").has_value());
}

TEST_CASE("a missing image that cannot be pulled gives an error naming it and the way out") {
  auto& c = daemon();
  try {
    c.ensure_image("kernelgate-no-such-image:never", {}, "Build it with scripts/build-test-image.");
    FAIL("a missing image was accepted");
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::docker_api);
    const std::string what = e.what();
    CHECK(what.find("kernelgate-no-such-image:never") != std::string::npos);
    CHECK(what.find("scripts/build-test-image") != std::string::npos);
  }
  CHECK_NOTHROW(c.ensure_image(test_image));
}

TEST_CASE("container lifecycle and exec with separate stdout and stderr") {
  auto& c = daemon();
  scoped_container box(sleeper_config(marker()));
  c.start_container(box.id);
  c.start_container(box.id);  // already running: not an error
  const auto info = c.inspect_container(box.id);
  REQUIRE(info.has_value());
  CHECK(info->at("State").at("Status") == "running");
  CHECK(info->at("HostConfig").at("NetworkMode") == "none");

  const auto listed = c.list_containers({{"io.kernelgate.test", marker()}});
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].at("Id") == box.id);

  const auto exec = c.create_exec(box.id, {{"AttachStdout", true},
                                           {"AttachStderr", true},
                                           {"Tty", false},
                                           {"Cmd", {"sh", "-c", "echo out; echo err >&2; echo more; exit 3"}}});
  auto stream = c.start_exec(exec);
  std::string out, err;
  const auto end = stream.pump(
      [&](std::string_view name, std::string_view data) { (name == "stdout" ? out : err).append(data); },
      std::chrono::steady_clock::now() + 30s);
  CHECK(end == kd::stream_end::eof);
  CHECK(out == "out\nmore\n");
  CHECK(err == "err\n");
  const auto ei = c.inspect_exec(exec);
  CHECK(ei.at("Running") == false);
  CHECK(ei.at("ExitCode") == 3);

  CHECK(c.remove_container(box.id));
  CHECK_FALSE(c.inspect_container(box.id).has_value());
  CHECK_FALSE(c.remove_container(box.id));  // already gone
}

TEST_CASE("exec output streams as it arrives; deadlines and stop tokens end a pump") {
  auto& c = daemon();
  scoped_container box(sleeper_config(marker()));
  c.start_container(box.id);
  const auto exec = c.create_exec(
      box.id, {{"AttachStdout", true}, {"AttachStderr", true}, {"Cmd", {"sh", "-c", "echo first; sleep 30"}}});
  auto stream = c.start_exec(exec);
  std::string out;
  std::stop_source stop;
  // The pump sees "first" long before the command ends, and the stop request ends it.
  const auto end = stream.pump(
      [&](std::string_view, std::string_view data) {
        out.append(data);
        stop.request_stop();
      },
      std::chrono::steady_clock::now() + 60s, stop.get_token());
  CHECK(end == kd::stream_end::cancelled);
  CHECK(out == "first\n");
  const auto again = stream.pump([&](std::string_view, std::string_view data) { out.append(data); },
                                 std::chrono::steady_clock::now() + 200ms);
  CHECK(again == kd::stream_end::deadline);
  CHECK(c.inspect_exec(exec).at("Running") == true);
}

TEST_CASE("daemon errors carry the status and the daemon's message") {
  auto& c = daemon();
  try {
    (void)c.create_exec("kernelgate-no-such-container", {{"Cmd", {"true"}}});
    FAIL("exec in a missing container accepted");
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::docker_api);
    CHECK(e.http_status() == 404);
    CHECK(std::string(e.what()).find("No such container") != std::string::npos);
  }
  try {
    (void)c.create_container({{"Image", test_image}, {"HostConfig", {{"Memory", 1024}}}});
    FAIL("a 1 KiB memory limit accepted");
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::docker_api);
    CHECK(e.http_status() == 400);
    CHECK(std::string(e.what()).find("emory") != std::string::npos);
  }
  const auto r = c.request("GET", "/containers/kernelgate-no-such-container/json");
  CHECK(r.status == 404);
}

TEST_CASE("no daemon at DOCKER_HOST: a clear docker_unavailable error") {
  kgtest::temp_dir dir;
  const auto missing = "unix://" + (dir.path() / "docker.sock").string();
  try {
    kd::client c({.host = missing});
    FAIL("connected to a missing socket");
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::docker_unavailable);
    const std::string what = e.what();
    CHECK(what.find(missing) != std::string::npos);
    CHECK(what.find("DOCKER_HOST") != std::string::npos);
  }
  const char* saved = std::getenv("DOCKER_HOST");
  const std::string saved_value = saved != nullptr ? saved : "";
  ::setenv("DOCKER_HOST", missing.c_str(), 1);
  CHECK_THROWS_AS(kd::client(), kg::error);
  if (saved != nullptr) {
    ::setenv("DOCKER_HOST", saved_value.c_str(), 1);
  } else {
    ::unsetenv("DOCKER_HOST");
  }
}
