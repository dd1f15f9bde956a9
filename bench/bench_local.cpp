// Per-block cost of the local executor, side by side in one run with
//  - the floor: the interpreter run directly on the same file (posix_spawn, read the pipes, wait), and
//  - the peer: a Python runner doing what AutoGen 0.2's LocalCommandLineCodeExecutor does
//    (bench/peer_local_runner.py: write the file, subprocess.run with capture).
// Runs are interleaved (floor and kernelgate in alternating order, then the peer) so drift hits all
// three alike.
// Prints one JSON line per metric with medians.
#include "kernelgate/exec/local_executor.hpp"

#include "bench_support.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace kg = kernelgate;
namespace fs = std::filesystem;
using namespace kgbench;

namespace {

constexpr const char* python = "/usr/bin/python3";

// The floor: the interpreter on the file with its output captured the cheapest way, with no library
// in between: posix_spawn with stdout and stderr on one pipe, blocking reads to EOF, waitpid. Each
// run gets a new session, as the executor gives each block: with the kernel's autogroup scheduling
// a session is its own CPU group, so the floor must not differ from kernelgate in that.
double run_direct(const fs::path& file, const fs::path& cwd) {
  const auto t0 = clock_type::now();
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, out[1], 2);
  posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  std::string interpreter = python, script = file.string();
  char* argv[] = {interpreter.data(), script.data(), nullptr};
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, python, &fa, &attr, argv, environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  if (rc != 0) {
    close(out[0]);
    throw std::runtime_error(std::string("cannot start ") + python);
  }
  char buf[65536];
  while (read(out[0], buf, sizeof buf) > 0) {
  }
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return ms_since(t0);
}

// The peer answers each {"code": ...} line with {"seconds": ...}.
double peer_run(peer_process& peer, const std::string& code) {
  return peer.ask(nlohmann::json{{"code", code}}.dump()).at("seconds").get<double>() * 1000.0;
}

struct samples {
  std::vector<double> floor, ours, peer;
};

// The floor runs the very file the executor wrote, in the same directory, so the difference is
// only what the executor does around the interpreter.
samples measure(const std::string& code, int rounds, kg::code_executor& ex, peer_process& peer, const fs::path& work) {
  const auto first = ex.execute({{"python", code}});
  if (!first.code_file) throw std::runtime_error("kernelgate wrote no code file: " + first.output);
  const fs::path file = fs::path(*first.code_file).filename();
  samples s;
  const auto ours_once = [&] {
    const auto t0 = clock_type::now();
    const auto r = ex.execute({{"python", code}});
    const double o = ms_since(t0);
    if (r.exit_code != 0) throw std::runtime_error("kernelgate block failed: " + r.output);
    return o;
  };
  for (int i = 0; i < rounds + 3; ++i) {
    // The order alternates between rounds so that neither side always runs right after the other.
    double f = 0, o = 0;
    if (i % 2 == 0) {
      f = run_direct(file, work);
      o = ours_once();
    } else {
      o = ours_once();
      f = run_direct(file, work);
    }
    const double p = peer_run(peer, code);
    if (i < 3) continue;  // warm-up
    s.floor.push_back(f);
    s.ours.push_back(o);
    s.peer.push_back(p);
  }
  return s;
}

constexpr const char* peer_name = "AutoGen 0.2-style subprocess runner (bench/peer_local_runner.py)";

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 100;
  const fs::path script = fs::path(__FILE__).parent_path() / "peer_local_runner.py";
  const fs::path base = fs::temp_directory_path() / ("kernelgate-bench-local-" + std::to_string(getpid()));
  fs::create_directories(base / "ours");
  fs::create_directories(base / "peer");
  int status = 0;
  try {
    auto ex = kg::make_local_executor({.work_dir = base / "ours"});
    peer_process peer({.argv = {python, script.string(), (base / "peer").string(), python}, .cwd = base / "peer"});
    const struct {
      std::string name, code;
    } cases[] = {
        {"pass", "pass\n"},
        {"print_10k_lines", "for i in range(10000):\n    print(i)\n"},
    };
    for (const auto& c : cases) {
      const auto s = measure(c.code, rounds, *ex, peer, base / "ours");
      const double floor = median(s.floor);
      print_median_and_p99("local_block_" + c.name, s.ours, s.peer, peer_name, "ms");
      // Overhead: the median of each round's difference to the floor run right before it, which
      // cancels the drift of a shared machine better than a difference of medians.
      std::vector<double> ours_over, peer_over;
      for (std::size_t i = 0; i < s.floor.size(); ++i) {
        ours_over.push_back(s.ours[i] - s.floor[i]);
        peer_over.push_back(s.peer[i] - s.floor[i]);
      }
      print_median("local_block_" + c.name + "_overhead_above_direct_interpreter", ours_over, peer_over, peer_name,
                   "ms");
      std::cerr << c.name << ": direct interpreter median " << floor << " ms\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_local: " << e.what() << '\n';
    status = 1;
  }
  std::error_code ec;
  fs::remove_all(base, ec);
  return status;
}
