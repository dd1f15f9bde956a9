#include <doctest/doctest.h>

#include "kernelgate/docker/client.hpp"
#include "kernelgate/error.hpp"
#include "kernelgate/exec/docker_executor.hpp"
#include "support.hpp"
#include "test_docker_support.hpp"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>

namespace kg = kernelgate;
namespace kd = kernelgate::docker;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

const std::string& test_image = kgtest::docker_test_image;

kd::client& daemon() { return kgtest::docker_daemon(); }

// A label value unique to one executor of this test process, to find its container.
std::string unique_marker() {
  static std::atomic<int> n{0};
  return std::to_string(::getpid()) + "-" + std::to_string(++n);
}

kg::docker_executor_options options(const std::string& marker, const fs::path& work_dir = {}) {
  (void)daemon();
  kg::docker_executor_options o;
  o.image = test_image;
  o.work_dir = work_dir;
  o.timeout = 30s;
  o.labels = {{"io.kernelgate.test", marker}};
  return o;
}

nlohmann::json containers_marked(const std::string& marker) {
  return daemon().list_containers({{"io.kernelgate.test", marker}});
}

kg::code_result run(kg::code_executor& ex, const std::string& lang, const std::string& code,
                    const kg::execute_options& o = {}) {
  return ex.execute({kg::code_block{lang, code}}, o);
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

// The command lines of every process in the executor's container, one a line.
kg::code_result container_processes(kg::code_executor& ex) {
  auto r = run(ex, "sh", "for p in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $p; echo; done");
  CHECK(contains(r.output, "tail -f /dev/null"));  // the listing works: the keep-alive process is in it
  return r;
}

}  // namespace

TEST_CASE("python and shell blocks run in the container, in the work directory") {
  kgtest::temp_dir dir;
  const auto marker = unique_marker();
  auto ex = kg::make_docker_executor(options(marker, dir.path()));
  CHECK(ex->kind() == kg::backend::docker);

  auto r = run(*ex, "python", "import os\nprint('hello from', os.getcwd())\n");
  CHECK(r.exit_code == 0);
  CHECK(r.output == "hello from /workspace\n");
  REQUIRE(r.code_file.has_value());
  CHECK(fs::path(*r.code_file).parent_path() == fs::canonical(dir.path()));
  CHECK(kgtest::read_file(*r.code_file) == "import os\nprint('hello from', os.getcwd())\n");

  r = run(*ex, "sh", "echo $((6 * 7)); echo to-stderr >&2");
  CHECK(r.exit_code == 0);
  CHECK(contains(r.output, "42\n"));
  CHECK(contains(r.output, "to-stderr\n"));

  r = run(*ex, "bash", "for i in 1 2 3; do printf '%s ' $i; done; echo");
  CHECK(r.exit_code == 0);
  CHECK(r.output == "1 2 3 \n");
}

TEST_CASE("AutoGen's cases: failures, several blocks, stop at the first failure, unknown languages") {
  const auto marker = unique_marker();
  auto ex = kg::make_docker_executor(options(marker));

  auto r = run(*ex, "python", "raise ValueError('bad value')");
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "ValueError: bad value"));

  r = run(*ex, "sh", "exit 7");
  CHECK(r.exit_code == 7);

  const std::vector<kg::code_block> blocks{
      {"python", "print('one')"}, {"sh", "echo two; exit 3"}, {"python", "print('three')"}};
  r = ex->execute(blocks);
  CHECK(r.exit_code == 3);
  CHECK(contains(r.output, "one\n"));
  CHECK(contains(r.output, "two\n"));
  CHECK_FALSE(contains(r.output, "three"));

  r = run(*ex, "cobol", "DISPLAY 'HI'.");
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "unknown language cobol"));

  // An interpreter missing from the image: the process's own code and message come back.
  r = run(*ex, "javascript", "console.log(1)");
  CHECK(r.exit_code == 127);
  CHECK(contains(r.output, "node"));
}

TEST_CASE("file names from the first line, and names outside the workspace refused") {
  kgtest::temp_dir dir;
  auto ex = kg::make_docker_executor(options(unique_marker(), dir.path()));
  auto r = run(*ex, "python", "# filename: sub/named.py\nprint(open('sub/named.py').read().splitlines()[1])");
  CHECK(r.exit_code == 0);
  CHECK(r.output == "print(open('sub/named.py').read().splitlines()[1])\n");
  CHECK(fs::exists(dir.path() / "sub" / "named.py"));

  r = run(*ex, "python", "# filename: ../escape.py\nprint('no')");
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "Filename is not in the workspace"));
  CHECK_FALSE(fs::exists(dir.path().parent_path() / "escape.py"));
}

TEST_CASE("a timeout keeps the partial output and says what happened") {
  auto ex = kg::make_docker_executor(options(unique_marker()));
  kg::execute_options o;
  o.timeout = 3s;  // room for a slow exec on a loaded machine before 'started'
  const auto r = run(*ex, "python", "import time\nprint('started', flush=True)\ntime.sleep(60)\nprint('never')", o);
  CHECK(r.exit_code == kg::exit_code::timeout);
  CHECK(contains(r.output, "started\n"));
  CHECK_FALSE(contains(r.output, "never"));
  CHECK(contains(r.output, "Timeout"));
  // A program that ignores SIGTERM is killed all the same, and the executor keeps working.
  const auto r2 = run(*ex, "python",
                      "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('stubborn')\n"
                      "time.sleep(60)",
                      o);
  CHECK(r2.exit_code == kg::exit_code::timeout);
  CHECK(contains(r2.output, "stubborn\n"));
  CHECK(run(*ex, "sh", "echo alive").output == "alive\n");
}

TEST_CASE("output streams to the handler while the block runs; a stop request cancels with 130") {
  auto ex = kg::make_docker_executor(options(unique_marker()));
  std::stop_source stop;
  std::string streamed;
  kg::execute_options o;
  o.stop = stop.get_token();
  o.on_output = [&](const kg::output& out) {
    CHECK(out.kind == kg::output_kind::stream);
    streamed += out.text;
    if (streamed.find("tick 2") != std::string::npos) stop.request_stop();
  };
  const auto r = run(*ex, "python", "import time\nfor i in range(1000):\n    print('tick', i)\n    time.sleep(0.05)\n", o);
  CHECK(r.exit_code == kg::exit_code::cancelled);
  CHECK(contains(r.output, "tick 2\n"));
  CHECK_FALSE(contains(r.output, "tick 999"));
  CHECK(streamed == r.output);
  // The block's processes are gone: nothing but the container's own remains.
  const auto ps = container_processes(*ex);
  CHECK_FALSE(contains(ps.output, "python3 tmp_code"));
}

TEST_CASE("a stop request from another thread ends a silent block") {
  auto ex = kg::make_docker_executor(options(unique_marker()));
  std::stop_source stop;
  kg::execute_options o;
  o.stop = stop.get_token();
  std::jthread canceller([&] {
    std::this_thread::sleep_for(500ms);  // test-side only: give the block time to start
    stop.request_stop();
  });
  const auto r = run(*ex, "sh", "sleep 60", o);
  CHECK(r.exit_code == kg::exit_code::cancelled);
  CHECK(contains(r.output, "Cancelled"));
}

TEST_CASE("hardened defaults: no network, no capabilities, limits, init, owner labels") {
  const auto marker = unique_marker();
  auto ex = kg::make_docker_executor(options(marker));
  const auto list = containers_marked(marker);
  REQUIRE(list.size() == 1);
  const auto info = daemon().inspect_container(list[0].at("Id").get<std::string>());
  REQUIRE(info.has_value());
  const auto& hc = info->at("HostConfig");
  CHECK(hc.at("NetworkMode") == "none");
  CHECK(hc.at("CapDrop") == nlohmann::json{"ALL"});
  CHECK(hc.at("SecurityOpt") == nlohmann::json{"no-new-privileges"});
  CHECK(hc.at("PidsLimit") == 256);
  CHECK(hc.at("Memory") == std::int64_t{512} << 20);
  CHECK(hc.at("MemorySwap") == std::int64_t{512} << 20);
  CHECK(hc.at("Init") == true);
  const auto& labels = info->at("Config").at("Labels");
  CHECK(labels.at("io.kernelgate.executor") == "docker");
  CHECK(labels.at("io.kernelgate.owner-pid") == std::to_string(::getpid()));

  // No network inside: the container's only interface is its own loopback, so there is no route
  // anywhere (the test sends nothing anywhere to prove it).
  const auto r = run(*ex, "python",
                     "import socket\nprint(sorted(n for _, n in socket.if_nameindex()))\n"
                     "print(open('/proc/net/route').read().count('\\n') - 1, 'routes')\n");
  CHECK(r.exit_code == 0);
  CHECK(contains(r.output, "['lo']"));
  CHECK(contains(r.output, "0 routes"));
}

TEST_CASE("the pids limit stops runaway forking, and a fork bomb ends at the deadline") {
  auto o = options(unique_marker());
  o.pids_limit = 64;
  auto ex = kg::make_docker_executor(o);

  // Deterministic: fork children that stay alive until fork fails; the limit must stop it well
  // before 1000, with EAGAIN.
  const auto counted = run(*ex, "python",
                           "import os, signal\n"
                           "kids = []\n"
                           "try:\n"
                           "    while len(kids) < 1000:\n"
                           "        pid = os.fork()\n"
                           "        if pid == 0:\n"
                           "            signal.pause()\n"
                           "            os._exit(0)\n"
                           "        kids.append(pid)\n"
                           "    print('no limit', len(kids))\n"
                           "except OSError as e:\n"
                           "    print('stopped', len(kids) < 64, os.strerror(e.errno))\n"
                           "for k in kids:\n"
                           "    os.kill(k, signal.SIGKILL)\n"
                           "    os.waitpid(k, 0)\n");
  INFO(counted.output);
  CHECK(counted.exit_code == 0);
  CHECK(contains(counted.output, "stopped True Resource temporarily unavailable"));

  // A bomb whose processes wait for their children keeps the container full until the deadline:
  // the executor still ends the block with 124 (when no new process can start in the container to
  // kill the block, it restarts the container), and the container answers again.
  kg::execute_options eo;
  eo.timeout = 3s;
  const auto bomb = run(*ex, "bash", "bomb() { bomb | bomb; }; bomb", eo);
  INFO(bomb.output);
  CHECK(bomb.exit_code == kg::exit_code::timeout);
  const auto after = run(*ex, "sh", "echo survived");
  CHECK(after.exit_code == 0);
  CHECK(after.output == "survived\n");
}

TEST_CASE("rm -rf / inside the container leaves the host untouched") {
  kgtest::temp_dir outside;
  kgtest::write_file(outside.path() / "canary.txt", "still here");
  auto ex = kg::make_docker_executor(options(unique_marker()));
  kg::execute_options eo;
  eo.timeout = 60s;
  const auto r = run(*ex, "sh", "rm -rf --no-preserve-root / 2>/dev/null; ls / | wc -l; echo done", eo);
  CHECK(contains(r.output, "done"));
  CHECK(kgtest::read_file(outside.path() / "canary.txt") == "still here");
  CHECK(fs::exists("/etc/hostname"));
  CHECK(daemon().inspect_image(test_image).has_value());
}

TEST_CASE("restart gives a fresh container; stop removes it at once and is idempotent") {
  const auto marker = unique_marker();
  auto ex = kg::make_docker_executor(options(marker));
  CHECK(run(*ex, "sh", "nohup sleep 300 >/dev/null 2>&1 & echo started").exit_code == 0);
  ex->restart();
  const auto ps = container_processes(*ex);
  CHECK(ps.exit_code == 0);
  CHECK_FALSE(contains(ps.output, "sleep 300"));
  CHECK(containers_marked(marker).size() == 1);

  ex->stop();
  CHECK(containers_marked(marker).empty());
  ex->stop();
  try {
    (void)run(*ex, "sh", "echo no");
    FAIL("execute after stop accepted");
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::not_connected);
  }
}

TEST_CASE("the destructor removes the container and a temporary work directory") {
  const auto marker = unique_marker();
  fs::path work;
  {
    auto ex = kg::make_docker_executor(options(marker));
    const auto r = run(*ex, "python", "print('x')");
    REQUIRE(r.code_file.has_value());
    work = fs::path(*r.code_file).parent_path();
    CHECK(fs::exists(work));
    CHECK(containers_marked(marker).size() == 1);
  }
  CHECK(containers_marked(marker).empty());
  CHECK_FALSE(fs::exists(work));
}

TEST_CASE("files the code writes are listed, owned by the caller") {
  kgtest::temp_dir dir;
  auto ex = kg::make_docker_executor(options(unique_marker(), dir.path()));
  // The seed example needs numpy and matplotlib, which the test image lacks; the same flow with
  // plain Python: compute points, save a plot file, report it.
  const auto r = run(*ex, "python",
                     "import random\nrandom.seed(42)\npts = [(random.gauss(0, 1), random.gauss(0, 1)) for _ in range(200)]\n"
                     "with open('scatter.svg', 'w') as f:\n"
                     "    f.write('<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"200\" height=\"200\">')\n"
                     "    for x, y in pts:\n"
                     "        f.write(f'<circle cx=\"{100 + 30 * x:.1f}\" cy=\"{100 - 30 * y:.1f}\" r=\"2\"/>')\n"
                     "    f.write('</svg>')\n"
                     "print('Scatter plot saved to scatter.svg')\n");
  CHECK(r.exit_code == 0);
  CHECK(r.output == "Scatter plot saved to scatter.svg\n");
  REQUIRE(r.output_files.size() == 1);
  CHECK(fs::path(r.output_files[0]).filename() == "scatter.svg");
  CHECK(kgtest::read_file(r.output_files[0]).find("<circle") != std::string::npos);
  struct stat st {};
  REQUIRE(::stat(r.output_files[0].c_str(), &st) == 0);
  CHECK(st.st_uid == ::getuid());
}

TEST_CASE("no daemon: a clear docker_unavailable error, nothing left behind") {
  kgtest::temp_dir dir;
  auto o = options(unique_marker());
  o.docker_host = "unix://" + (dir.path() / "no-docker.sock").string();
  try {
    (void)kg::make_docker_executor(o);
    FAIL("an executor without a daemon");
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::docker_unavailable);
    CHECK(contains(e.what(), "no-docker.sock"));
  }
}

TEST_CASE("bad options are refused before anything is created") {
  const auto marker = unique_marker();
  auto o = options(marker);
  o.extra_volumes = {{"/var/run", "/mnt/run", true}};
  CHECK_THROWS_AS((void)kg::make_docker_executor(o), kg::error);
  o.extra_volumes = {{"/", "/host", true}};
  CHECK_THROWS_AS((void)kg::make_docker_executor(o), kg::error);
  o.extra_volumes.clear();
  o.memory_bytes = 1024;
  CHECK_THROWS_AS((void)kg::make_docker_executor(o), kg::error);
  o = options(marker);
  o.image = "kernelgate-no-such-image:never";
  try {
    (void)kg::make_docker_executor(o);
    FAIL("a missing image accepted");
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::docker_api);
    CHECK(contains(e.what(), "scripts/build-test-image"));
  }
  CHECK(containers_marked(marker).empty());
}

TEST_CASE("extra volumes are mounted read-only by default") {
  kgtest::temp_dir data;
  kgtest::write_file(data.path() / "input.txt", "shared data");
  auto o = options(unique_marker());
  o.extra_volumes = {{data.path(), "/data", true}};
  auto ex = kg::make_docker_executor(o);
  const auto r = run(*ex, "sh", "cat /data/input.txt; echo; touch /data/new 2>/dev/null || echo read-only");
  CHECK(r.output == "shared data\nread-only\n");
}

TEST_CASE("containers of dead owners are removed by the cleanup helper; live ones are kept") {
  const auto marker = unique_marker();
  auto live = kg::make_docker_executor(options(marker));

  // A container labelled as owned by a process that has exited.
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  char host[256] = {};
  REQUIRE(::gethostname(host, sizeof host - 1) == 0);
  const auto orphan = daemon().create_container(
      {{"Image", test_image},
       {"Entrypoint", {"tail", "-f", "/dev/null"}},
       {"Labels",
        {{"io.kernelgate.executor", "docker"},
         {"io.kernelgate.owner-pid", std::to_string(child)},
         {"io.kernelgate.owner-start", "1"},
         {"io.kernelgate.owner-host", host},
         {"io.kernelgate.test", marker}}},
       {"HostConfig", {{"NetworkMode", "none"}, {"Init", true}}}});
  daemon().start_container(orphan);
  REQUIRE(containers_marked(marker).size() == 2);

  const auto removed = kg::remove_orphaned_docker_containers();
  CHECK(std::find(removed.begin(), removed.end(), orphan) != removed.end());
  const auto left = containers_marked(marker);
  REQUIRE(left.size() == 1);
  CHECK(left[0].at("Id") != orphan);
  CHECK(run(*live, "sh", "echo still-mine").output == "still-mine\n");
}

TEST_CASE("output imitating the runner's end marker is kept as output") {
  auto ex = kg::make_docker_executor(options(unique_marker()));
  const auto r = run(*ex, "python",
                     "import sys\nfake = '\\036kernelgate-end:' + 'f' * 32 + ':0\\n'\n"
                     "sys.stdout.write(fake); sys.stderr.write(fake)\nprint('after')\nsys.exit(5)\n");
  CHECK(r.exit_code == 5);
  CHECK(contains(r.output, "after\n"));
  CHECK(contains(r.output, "\036kernelgate-end:ffff"));
}

TEST_CASE("code that kills every process in the container does not break the executor") {
  auto ex = kg::make_docker_executor(options(unique_marker()));
  // kill(-1) reaches every process but PID 1 and the caller: the runner and the container's
  // keep-alive process die, the container stops, and the caller with it.
  const auto r = run(*ex, "python", "import os, time\nprint('before', flush=True)\nos.kill(-1, 9)\ntime.sleep(5)\nprint('never')");
  CHECK(r.exit_code != 0);
  CHECK(contains(r.output, "before\n"));
  CHECK_FALSE(contains(r.output, "never"));
  const auto again = run(*ex, "sh", "echo back");
  CHECK(again.exit_code == 0);
  CHECK(again.output == "back\n");
}

TEST_CASE("background children do not hold a block open or outlive it") {
  auto ex = kg::make_docker_executor(options(unique_marker()));
  const auto r = run(*ex, "sh", "sleep 300 & echo spawned");
  CHECK(r.exit_code == 0);
  CHECK(r.output == "spawned\n");
  const auto ps = container_processes(*ex);
  CHECK_FALSE(contains(ps.output, "sleep 300"));
}

TEST_CASE("the host-side deadline ends a block whose in-container timeout cannot act") {
  auto ex = kg::make_docker_executor(options(unique_marker()));
  kg::execute_options eo;
  eo.timeout = 3s;  // room for a slow exec on a loaded machine before 'waiting'
  // The block stops its parent, `timeout`, so only the host-side deadline can end it.
  const auto r = run(*ex, "sh", "echo waiting; kill -s STOP $PPID; sleep 60; echo never", eo);
  CHECK(r.exit_code == kg::exit_code::timeout);
  CHECK(contains(r.output, "waiting\n"));
  CHECK_FALSE(contains(r.output, "never"));
  CHECK(run(*ex, "sh", "echo recovered").output == "recovered\n");
}

TEST_CASE("a work directory whose path has blanks and colons is mounted as it is") {
  kgtest::temp_dir dir;
  const auto odd = dir.path() / "my work:dir";
  auto ex = kg::make_docker_executor(options(unique_marker(), odd));
  const auto r = run(*ex, "sh", "echo content > made-here.txt; ls");
  CHECK(r.exit_code == 0);
  CHECK(kgtest::read_file(odd / "made-here.txt") == "content\n");
}

TEST_CASE("a container removed behind the executor's back is recreated for the next block") {
  const auto marker = unique_marker();
  auto ex = kg::make_docker_executor(options(marker));
  CHECK(run(*ex, "sh", "echo first").output == "first\n");
  const auto list = containers_marked(marker);
  REQUIRE(list.size() == 1);
  REQUIRE(daemon().remove_container(list[0].at("Id").get<std::string>()));
  const auto r = run(*ex, "sh", "echo second");
  CHECK(r.exit_code == 0);
  CHECK(r.output == "second\n");
  CHECK(containers_marked(marker).size() == 1);
  ex->stop();
  CHECK(containers_marked(marker).empty());
}

TEST_CASE("invalid options are refused even without a daemon") {
  kgtest::temp_dir dir;
  kg::docker_executor_options o;
  o.docker_host = "unix://" + (dir.path() / "none.sock").string();
  o.timeout = std::chrono::milliseconds(0);
  try {
    (void)kg::make_docker_executor(o);
    FAIL("a zero timeout accepted");
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::invalid_argument);
  }
  o.timeout = 1s;
  o.docker_host = "tcp://127.0.0.1:2375";
  try {
    (void)kg::make_docker_executor(o);
    FAIL("a tcp daemon accepted");
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::invalid_argument);
  }
}

TEST_CASE("a read-only image filesystem still runs blocks, with /tmp and /workspace writable") {
  auto o = options(unique_marker());
  o.read_only_rootfs = true;
  auto ex = kg::make_docker_executor(o);
  const auto r = run(*ex, "sh",
                     "touch /etc/x 2>/dev/null && echo rootfs-writable || echo rootfs-read-only; "
                     "touch /tmp/t && echo tmp-ok; touch out.txt && echo workspace-ok");
  CHECK(r.exit_code == 0);
  CHECK(r.output == "rootfs-read-only\ntmp-ok\nworkspace-ok\n");
  kg::execute_options eo;
  eo.timeout = 1s;
  CHECK(run(*ex, "sh", "sleep 30", eo).exit_code == kg::exit_code::timeout);
}

TEST_CASE("large output is capped with a note, and the next block is unaffected") {
  auto o = options(unique_marker());
  o.max_output_bytes = 10000;
  auto ex = kg::make_docker_executor(o);
  std::size_t streamed = 0;
  kg::execute_options eo;
  eo.on_output = [&](const kg::output& out) { streamed += out.text.size(); };
  const auto r = run(*ex, "python", "import sys\nfor i in range(20000):\n    sys.stdout.write('line %05d\\n' % i)\n", eo);
  CHECK(r.exit_code == 0);
  CHECK(r.output.starts_with("line 00000\nline 00001\n"));
  CHECK(r.output.size() < 10000 + 400);
  CHECK(r.output.find("line 19999") == std::string::npos);
  CHECK(streamed == r.output.size());
  const auto next = run(*ex, "sh", "echo small");
  CHECK(next.output == "small\n");
}
