// Per-block cost of the local executor, side by side in one run with
//  - the floor: the interpreter run directly on the same file (posix_spawn, read the pipes, wait), and
//  - the peer: a Python runner doing what AutoGen 0.2's LocalCommandLineCodeExecutor does
//    (bench/peer_local_runner.py: write the file, subprocess.run with capture).
// Runs are interleaved (floor, kernelgate, peer, floor, ...) so drift hits all three alike.
// Prints one JSON line per metric with medians.
#include "kernelgate/exec/local_executor.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <poll.h>
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
using clock_type = std::chrono::steady_clock;

namespace {

constexpr const char* python = "/usr/bin/python3";

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// Starts argv with stdin and stdout as pipes (and stderr too unless it is inherited).
struct spawned {
  pid_t pid = -1;
  int in = -1, out = -1, err = -1;
};

spawned spawn(const std::vector<std::string>& args, bool pipe_stdin, bool pipe_stderr, const fs::path& cwd) {
  int in[2] = {-1, -1}, out[2], err[2] = {-1, -1};
  if ((pipe_stdin && pipe2(in, O_CLOEXEC) != 0) || pipe2(out, O_CLOEXEC) != 0 || (pipe_stderr && pipe2(err, O_CLOEXEC) != 0))
    throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (pipe_stdin) posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  else posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  if (pipe_stderr) posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  spawned s;
  if (posix_spawn(&s.pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) throw std::runtime_error("spawn failed: " + args[0]);
  posix_spawn_file_actions_destroy(&fa);
  if (pipe_stdin) {
    close(in[0]);
    s.in = in[1];
  }
  close(out[1]);
  s.out = out[0];
  if (pipe_stderr) {
    close(err[1]);
    s.err = err[0];
  }
  return s;
}

// The floor: the interpreter on the file, both pipes read to EOF, then reaped.
double run_direct(const fs::path& file, const fs::path& cwd) {
  const auto t0 = clock_type::now();
  auto s = spawn({python, file.string()}, false, true, cwd);
  pollfd fds[2] = {{s.out, POLLIN, 0}, {s.err, POLLIN, 0}};
  char buf[65536];
  int open = 2;
  while (open > 0) {
    if (poll(fds, 2, -1) < 0) continue;
    for (auto& f : fds) {
      if (f.fd >= 0 && f.revents) {
        if (read(f.fd, buf, sizeof buf) <= 0) {
          close(f.fd);
          f.fd = -1;
          --open;
        }
      }
    }
  }
  int status = 0;
  waitpid(s.pid, &status, 0);
  return ms_since(t0);
}

class peer_runner {
 public:
  peer_runner(const fs::path& script, const fs::path& work) {
    s_ = spawn({python, script.string(), work.string(), python}, true, false, work);
  }
  ~peer_runner() {
    close(s_.in);
    close(s_.out);
    int status = 0;
    waitpid(s_.pid, &status, 0);
  }
  peer_runner(const peer_runner&) = delete;
  peer_runner& operator=(const peer_runner&) = delete;

  double run(const std::string& code) {
    const std::string line = nlohmann::json{{"code", code}}.dump() + "\n";
    if (write(s_.in, line.data(), line.size()) != static_cast<ssize_t>(line.size())) throw std::runtime_error("peer write");
    std::string reply;
    char c;
    while (read(s_.out, &c, 1) == 1 && c != '\n') reply += c;
    return nlohmann::json::parse(reply).at("seconds").get<double>() * 1000.0;
  }

 private:
  spawned s_;
};

struct samples {
  std::vector<double> floor, ours, peer;
};

// The floor runs the very file the executor wrote, in the same directory, so the difference is
// only what the executor does around the interpreter.
samples measure(const std::string& code, int rounds, kg::code_executor& ex, peer_runner& peer, const fs::path& work) {
  const auto first = ex.execute({{"python", code}});
  if (!first.code_file) throw std::runtime_error("kernelgate wrote no code file: " + first.output);
  const fs::path file = fs::path(*first.code_file).filename();
  samples s;
  for (int i = 0; i < rounds + 3; ++i) {
    const double f = run_direct(file, work);
    const auto t0 = clock_type::now();
    const auto r = ex.execute({{"python", code}});
    const double o = ms_since(t0);
    if (r.exit_code != 0) throw std::runtime_error("kernelgate block failed: " + r.output);
    const double p = peer.run(code);
    if (i < 3) continue;  // warm-up
    s.floor.push_back(f);
    s.ours.push_back(o);
    s.peer.push_back(p);
  }
  return s;
}

void print_metric(const std::string& metric, double ours, double peer, const std::string& unit) {
  std::cout << nlohmann::json{{"metric", metric},
                              {"kernelgate", ours},
                              {"peer", peer},
                              {"peer_name", "AutoGen 0.2-style subprocess runner (bench/peer_local_runner.py)"},
                              {"ratio", peer > 0 ? ours / peer : 0.0},
                              {"unit", unit}}
                   .dump()
            << '\n';
}

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
    peer_runner peer(script, base / "peer");
    const struct {
      std::string name, code;
    } cases[] = {
        {"pass", "pass\n"},
        {"print_10k_lines", "for i in range(10000):\n    print(i)\n"},
    };
    for (const auto& c : cases) {
      const auto s = measure(c.code, rounds, *ex, peer, base / "ours");
      const double floor = median(s.floor), ours = median(s.ours), theirs = median(s.peer);
      print_metric("local_block_" + c.name + "_median", ours, theirs, "ms");
      print_metric("local_block_" + c.name + "_overhead_above_direct_interpreter_median", ours - floor, theirs - floor, "ms");
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
