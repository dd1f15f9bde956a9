// A real image pull: Debian's docker-registry, started on 127.0.0.1 for the test, serves the local
// test image under a new name; the docker executor finds it missing, pulls it through dockerd with
// progress, and runs a block in it. Nothing leaves the machine.
#include <doctest/doctest.h>

#include "kernelgate/error.hpp"
#include "kernelgate/exec/docker_executor.hpp"
#include "support.hpp"
#include "test_docker_support.hpp"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <thread>

namespace kg = kernelgate;
namespace kd = kernelgate::detail;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr const char* registry_program = "/usr/bin/docker-registry";

bool accepts_connections(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// A registry on 127.0.0.1 with its storage in a temporary directory; stopped with the object.
class local_registry {
 public:
  local_registry() {
    kgtest::require_service(fs::exists(registry_program), "Debian's docker-registry (scripts/install-deps)");
    for (int attempt = 0; attempt < 5 && !process_; ++attempt) start(kgtest::free_loopback_port());
    if (!process_) FAIL("docker-registry did not start listening on 127.0.0.1");
  }
  local_registry(const local_registry&) = delete;
  local_registry& operator=(const local_registry&) = delete;
  ~local_registry() {
    if (!process_) return;
    process_->signal(SIGTERM);
    if (!process_->wait_for(10s)) process_->kill_and_reap();
  }

  [[nodiscard]] std::string host() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  void start(int port) {
    const auto config = dir_.path() / ("config-" + std::to_string(port) + ".yml");
    kgtest::write_file(config, "version: 0.1\n"
                               "log:\n  level: warn\n"
                               "storage:\n  filesystem:\n    rootdirectory: " +
                                   (dir_.path() / "data").string() +
                                   "\n"
                                   "http:\n  addr: 127.0.0.1:" +
                                   std::to_string(port) + "\n");
    auto child = kd::child_process::spawn(
        {.argv = {registry_program, "serve", config.string()}, .out = kd::stdio::null, .err = kd::stdio::null});
    const auto until = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < until) {
      if (child.try_wait()) return;  // it could not listen there: another port
      if (accepts_connections(port)) {
        process_.emplace(std::move(child));
        port_ = port;
        return;
      }
      std::this_thread::sleep_for(50ms);
    }
  }

  kgtest::temp_dir dir_;
  std::optional<kd::child_process> process_;
  int port_ = 0;
};

kgtest::command_result docker_cli(std::vector<std::string> args) {
  args.insert(args.begin(), "docker");
  return kgtest::run_command(args, "", 5min);
}

}  // namespace

TEST_CASE("a missing image is pulled from a registry with progress, then runs blocks") {
  auto& daemon = kgtest::docker_daemon();
  local_registry registry;
  const std::string image = registry.host() + "/kernelgate-pull-test:" + std::to_string(::getpid());
  // Publish the test image under the registry's name, then forget that name locally.
  REQUIRE(docker_cli({"tag", kgtest::docker_test_image, image}).status == 0);
  const auto push = docker_cli({"push", image});
  INFO("docker push: " << push.out << push.err);
  REQUIRE(push.status == 0);
  REQUIRE(docker_cli({"rmi", image}).status == 0);
  REQUIRE_FALSE(daemon.inspect_image(image).has_value());

  std::vector<std::string> progress;
  kg::docker_executor_options o;
  o.image = image;
  o.on_pull_progress = [&](const nlohmann::json& line) { progress.push_back(line.value("status", "")); };
  {
    auto ex = kg::make_docker_executor(o);
    const auto r = ex->execute({{"sh", "echo pulled and running"}});
    CHECK(r.exit_code == 0);
    CHECK(r.output == "pulled and running\n");
  }
  INFO("progress: " << nlohmann::json(progress).dump());
  CHECK(std::any_of(progress.begin(), progress.end(),
                    [](const std::string& s) { return s.find("Pulling from") != std::string::npos; }));
  CHECK(std::any_of(progress.begin(), progress.end(),
                    [](const std::string& s) { return s.find("Digest:") != std::string::npos; }));
  CHECK(daemon.inspect_image(image).has_value());
  (void)docker_cli({"rmi", image});

  // A name the registry does not have: a clear error naming the image, no container left.
  o.image = registry.host() + "/kernelgate-pull-test:never-pushed";
  o.on_pull_progress = {};
  try {
    (void)kg::make_docker_executor(o);
    FAIL("an image no registry has was accepted");
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::docker_api);
    CHECK(std::string(e.what()).find("never-pushed") != std::string::npos);
  }
}
