// The Docker executor side by side with its peer, in one run, on the same image:
//  - per block: kernelgate's execute() of one block vs AutoGen's way with docker-py (write the
//    file, container.exec_run(["timeout", "60", interpreter, file])), bench/peer_docker.py;
//  - container start: make_docker_executor() vs AutoGen's start (create, start, poll until running);
//  - container stop: stop() vs AutoGen's stop (container.stop(), the daemon's grace period).
// Rounds interleave kernelgate and the peer so drift hits both alike. One JSON line per metric.
#include "kernelgate/exec/docker_executor.hpp"

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
using clock_type = std::chrono::steady_clock;

namespace {

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  if (q == 0.5) return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  return v[std::min(v.size() - 1, static_cast<std::size_t>(static_cast<double>(v.size()) * q))];
}

// The Python peer, driven line by line over pipes.
class peer_process {
 public:
  peer_process(const std::string& image, const fs::path& work_dir) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    const auto script = (fs::path(__FILE__).parent_path() / "peer_docker.py").string();
    std::vector<std::string> args{"/usr/bin/python3", script, image, work_dir.string()};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (::posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ) != 0) {
      throw std::runtime_error("cannot start /usr/bin/python3 " + script);
    }
    posix_spawn_file_actions_destroy(&fa);
    ::close(in[0]);
    ::close(out[1]);
    to_ = ::fdopen(in[1], "w");
    from_ = ::fdopen(out[0], "r");
  }
  peer_process(const peer_process&) = delete;
  peer_process& operator=(const peer_process&) = delete;
  ~peer_process() {
    std::fputs("quit\n", to_);
    std::fclose(to_);
    std::fclose(from_);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }

  nlohmann::json ask(const std::string& line) {
    std::fputs((line + "\n").c_str(), to_);
    std::fflush(to_);
    std::string reply;
    for (int c; (c = std::fgetc(from_)) != EOF && c != '\n';) reply.push_back(static_cast<char>(c));
    if (reply.empty()) throw std::runtime_error("the docker-py peer ended (see its stderr)");
    return nlohmann::json::parse(reply);
  }

 private:
  pid_t pid_ = -1;
  std::FILE* to_ = nullptr;
  std::FILE* from_ = nullptr;
};

void print_metric(const std::string& metric, double ours, double peer, const std::string& peer_name) {
  std::cout << nlohmann::json{{"metric", metric},           {"kernelgate", ours}, {"peer", peer},
                              {"peer_name", peer_name},     {"ratio", ours / peer}, {"unit", "ms"}}
                   .dump()
            << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
  std::string image = "kernelgate-test:bookworm";
  int rounds = 3;
  int blocks_per_round = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--image") image = argv[i + 1];
    if (a == "--rounds") rounds = std::max(1, std::atoi(argv[i + 1]));
    if (a == "--blocks") blocks_per_round = std::max(1, std::atoi(argv[i + 1]));
  }
  const auto base = fs::temp_directory_path() / ("kernelgate-bench-docker-" + std::to_string(::getpid()));
  const auto ours_dir = base / "kernelgate";
  const auto peer_dir = base / "peer";
  fs::create_directories(ours_dir);
  fs::create_directories(peer_dir);
  int status = 0;
  try {
    peer_process peer(image, peer_dir);
    const std::vector<kg::code_block> kinds{{"sh", "echo hello"}, {"python", "print('hello')"}};
    std::vector<double> start_ours, start_peer, stop_ours, stop_peer;
    std::vector<std::vector<double>> block_ours(kinds.size()), block_peer(kinds.size());
    for (int r = 0; r < rounds; ++r) {
      auto t0 = clock_type::now();
      auto ex = kg::make_docker_executor({.image = image, .work_dir = ours_dir});
      start_ours.push_back(ms_since(t0));
      start_peer.push_back(peer.ask("start").at("ms").get<double>());
      for (int b = 0; b < blocks_per_round; ++b) {
        for (std::size_t k = 0; k < kinds.size(); ++k) {
          t0 = clock_type::now();
          const auto res = ex->execute({kinds[k]});
          block_ours[k].push_back(ms_since(t0));
          const auto p = peer.ask("block " + kinds[k].language + " " + nlohmann::json(kinds[k].code).dump());
          block_peer[k].push_back(p.at("ms").get<double>());
          if (res.exit_code != 0 || res.output != "hello\n" || p.at("exit_code") != 0 || p.at("output") != "hello\n") {
            throw std::runtime_error("a block did not print hello: kernelgate '" + res.output + "', peer '" +
                                     p.at("output").get<std::string>() + "'");
          }
        }
      }
      t0 = clock_type::now();
      ex->stop();
      stop_ours.push_back(ms_since(t0));
      stop_peer.push_back(peer.ask("stop").at("ms").get<double>());
    }
    const std::string peer_name = "docker-py 5 exec_run, AutoGen DockerCommandLineCodeExecutor's way";
    for (std::size_t k = 0; k < kinds.size(); ++k) {
      const auto name = "docker_block_" + kinds[k].language;
      print_metric(name + "_median", quantile(block_ours[k], 0.5), quantile(block_peer[k], 0.5), peer_name);
      print_metric(name + "_p99", quantile(block_ours[k], 0.99), quantile(block_peer[k], 0.99), peer_name);
    }
    print_metric("docker_container_start_median", quantile(start_ours, 0.5), quantile(start_peer, 0.5),
                 "docker-py 5: AutoGen's start (from_env, create, start, reload until running)");
    print_metric("docker_container_stop_median", quantile(stop_ours, 0.5), quantile(stop_peer, 0.5),
                 "docker-py 5: AutoGen's stop (container.stop(), default grace period)");
  } catch (const std::exception& e) {
    std::cerr << "bench_docker: " << e.what() << "\n";
    status = 1;
  }
  std::error_code ec;
  fs::remove_all(base, ec);
  return status;
}
