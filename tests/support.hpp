#ifndef KERNELGATE_TESTS_SUPPORT_HPP
#define KERNELGATE_TESTS_SUPPORT_HPP

// Helpers shared by kernelgate's tests.

#include "detail/loopback.hpp"
#include "detail/process.hpp"

#include <doctest/doctest.h>

#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace kgtest {

/// Skips the test program (ctest SKIP_RETURN_CODE 77) when a service is missing on a developer's
/// machine; under the README's test command (KERNELGATE_REQUIRE_SERVICES=1) a missing service fails.
inline void require_service(bool available, const std::string& what) {
  if (available) return;
  if (std::getenv("KERNELGATE_REQUIRE_SERVICES") != nullptr) {
    FAIL("required service missing: " << what << " (scripts/test installs and starts it)");
  }
  MESSAGE("skipping: " << what << " is not available here");
  std::exit(77);
}

/// A TCP port on 127.0.0.1 that was free a moment ago (a server started on it may still lose it to
/// another process: callers retry with a new one).
inline int free_loopback_port() { return kernelgate::detail::bind_loopback_port().port; }

/// Debian's interpreter, which has ipykernel, jupyter_client and jupyter-server.
inline const char* system_python() { return "/usr/bin/python3"; }

/// A fresh directory, removed with everything in it when the object goes away.
class temp_dir {
 public:
  temp_dir() {
    std::random_device rd;
    const auto base = std::filesystem::temp_directory_path();
    for (;;) {
      path_ = base / ("kernelgate-test-" + std::to_string(rd()));
      if (std::filesystem::create_directory(path_)) break;
    }
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

/// What a finished command printed and how it ended.
struct command_result {
  int status = -1;  ///< exit status (128 + signal), -1 when it had to be killed at the deadline
  std::string out, err;
};

/// Runs a command to completion, feeding `input` on stdin and collecting stdout and stderr together
/// (neither pipe can fill up and stall it). A command still running at the deadline is killed and
/// reported with status -1, so a hung program fails its test instead of hanging it.
inline command_result run_command(const std::vector<std::string>& argv, const std::string& input = "",
                                  std::chrono::milliseconds timeout = std::chrono::minutes(5),
                                  const std::filesystem::path& cwd = {}) {
  namespace kd = kernelgate::detail;
  auto child = kd::child_process::spawn({.argv = argv, .cwd = cwd, .in = kd::stdio::pipe});
  if (!input.empty()) (void)!::write(child.stdin_fd(), input.data(), input.size());
  child.close_stdin();
  command_result r;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<pollfd> fds{{child.stdout_fd(), POLLIN, 0}, {child.stderr_fd(), POLLIN, 0}};
  std::string* sinks[] = {&r.out, &r.err};
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      child.kill_and_reap();
      return r;
    }
    if (::poll(fds.data(), fds.size(), static_cast<int>(left.count())) < 0) continue;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[8192];
      const auto n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) sinks[i]->append(buf, static_cast<std::size_t>(n));
      else fds[i].fd = -1;
    }
  }
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  r.status = child.wait_for(std::max(left, std::chrono::milliseconds(0))).value_or(-1);
  return r;
}

}  // namespace kgtest

#endif
