#include <doctest/doctest.h>

#include "detail/process.hpp"
#include "kernelgate/error.hpp"
#include "support.hpp"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <string>

namespace kg = kernelgate;
using namespace std::chrono_literals;

namespace {
// True when the process no longer runs: gone, or a zombie waiting for whoever reaps orphans.
bool ended(pid_t pid) {
  const std::string stat = kgtest::read_file("/proc/" + std::to_string(pid) + "/stat");
  if (stat.empty()) return true;
  const auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z';
}

std::string drain(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    const auto n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}
}  // namespace

TEST_CASE("a child's output and exit status are collected") {
  auto child = kg::detail::child_process::spawn({.argv = {"sh", "-c", "echo out; echo err >&2; exit 3"}});
  CHECK(drain(child.stdout_fd()) == "out\n");
  CHECK(drain(child.stderr_fd()) == "err\n");
  CHECK(child.wait_for(10s) == 3);
}

TEST_CASE("merged stderr keeps the order of writes") {
  auto child = kg::detail::child_process::spawn(
      {.argv = {"sh", "-c", "echo 1; echo 2 >&2; echo 3"}, .merge_stderr = true});
  CHECK(drain(child.stdout_fd()) == "1\n2\n3\n");
  CHECK(child.wait_for(10s) == 0);
}

TEST_CASE("a missing program is a launch_failed error naming it") {
  try {
    (void)kg::detail::child_process::spawn({.argv = {"kernelgate-no-such-program"}});
    FAIL("spawn should throw");
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::launch_failed);
    CHECK(std::string(e.what()).find("kernelgate-no-such-program") != std::string::npos);
  }
}

TEST_CASE("killing the group also ends background grandchildren") {
  auto child = kg::detail::child_process::spawn(
      {.argv = {"sh", "-c", "sleep 300 & echo $!; wait"}, .err = kg::detail::stdio::null});
  std::string line;
  char c;
  while (::read(child.stdout_fd(), &c, 1) == 1 && c != '\n') line += c;
  const pid_t grandchild = std::stoi(line);
  CHECK(::kill(grandchild, 0) == 0);
  CHECK(!child.wait_for(50ms).has_value());
  CHECK(child.kill_and_reap() == 128 + SIGKILL);
  // The group signal reached the grandchild too (delivery is asynchronous: allow it a moment).
  bool gone = false;
  for (int i = 0; i < 500 && !gone; ++i) {
    gone = ended(grandchild);
    if (!gone) (void)kg::detail::wait_readable(-1, 10ms);
  }
  CHECK(gone);
}

TEST_CASE("the destructor never leaves a running child") {
  pid_t pid = -1;
  {
    auto child = kg::detail::child_process::spawn({.argv = {"sleep", "300"}});
    pid = child.pid();
    CHECK(::kill(pid, 0) == 0);
  }
  CHECK(ended(pid));
}

TEST_CASE("the working directory and environment are applied") {
  auto child = kg::detail::child_process::spawn(
      {.argv = {"sh", "-c", "pwd; echo $KG_VALUE"}, .cwd = "/tmp", .env = std::map<std::string, std::string>{
          {"KG_VALUE", "forty-two"}, {"PATH", "/usr/bin:/bin"}}});
  CHECK(drain(child.stdout_fd()) == "/tmp\nforty-two\n");
  CHECK(child.wait_for(10s) == 0);
}
