// Many kernels at once, and many start/stop cycles: no leaked file descriptors or child processes.

#include "kernelgate/kernel/kernel_session.hpp"
#include "ipykernel_support.hpp"

#include <doctest/doctest.h>

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

using namespace std::chrono_literals;
namespace kg = kernelgate;

namespace {

std::size_t open_fds() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// Processes (zombies included) whose parent is this process.
std::size_t child_processes() {
  const auto me = std::to_string(::getpid());
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const auto name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(e.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    // pid (comm) state ppid ...: comm may hold spaces, so parse after the last ')'.
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    std::string state, ppid;
    rest >> state >> ppid;
    if (ppid == me) ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("8 kernels in parallel threads each keep their own state") {
  kgtest::require_ipykernel();
  kgtest::temp_dir dir;
  constexpr int n = 8;
  std::vector<std::string> got(n);
  std::vector<std::string> failures(n);
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      try {
        const auto wd = dir.path() / ("k" + std::to_string(i));
        auto s = kg::kernel_session::start({.work_dir = wd, .startup_timeout = 180s});
        (void)s.execute("me = " + std::to_string(i), {.timeout = 120s});
        std::string out;
        for (int round = 0; round < 3; ++round) {
          auto r = s.execute("me = me * 10 + " + std::to_string(round) + "\nprint(me)", {.timeout = 120s});
          for (const auto& o : r.outputs) out += o.text;
        }
        got[i] = out;
      } catch (const std::exception& e) {
        failures[i] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  for (int i = 0; i < n; ++i) {
    CHECK(failures[i] == "");
    const long a = i * 10, b = a * 10 + 1, c = b * 10 + 2;
    CHECK(got[i] == std::to_string(a) + "\n" + std::to_string(b) + "\n" + std::to_string(c) + "\n");
  }
  CHECK(child_processes() == 0);
}

TEST_CASE("50 start/stop cycles leave no extra open fds or child processes") {
  kgtest::require_ipykernel();
  kgtest::temp_dir dir;
  {  // one warm-up cycle: one-time process-wide initialisation is not a leak
    auto s = kg::kernel_session::start({.work_dir = dir.path()});
    (void)s.execute("1");
  }
  const auto fds_before = open_fds();
  const auto children_before = child_processes();
  CHECK(children_before == 0);
  std::vector<std::filesystem::path> connection_files;
  for (int i = 0; i < 50; ++i) {
    auto s = kg::kernel_session::start({.work_dir = dir.path()});
    connection_files.push_back(s.connection_file());
    auto r = s.execute("print(" + std::to_string(i) + ")");
    REQUIRE(r.outputs.size() == 1);
    CHECK(r.outputs[0].text == std::to_string(i) + "\n");
    if (i % 2 == 0) s.shutdown();  // explicit shutdown and destructor-only both count
  }
  CHECK(open_fds() == fds_before);
  CHECK(child_processes() == 0);
  for (const auto& f : connection_files) CHECK_FALSE(std::filesystem::exists(f));
}
