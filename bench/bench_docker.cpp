// The Docker executor side by side with its peer, in one run, on the same image:
//  - per block: kernelgate's execute() of one block vs AutoGen's way with docker-py (write the
//    file, container.exec_run(["timeout", "60", interpreter, file])), bench/peer_docker.py;
//  - container start: make_docker_executor() vs AutoGen's start (create, start, poll until running);
//  - container stop: stop() vs AutoGen's stop (container.stop(), the daemon's grace period).
// Rounds interleave kernelgate and the peer so drift hits both alike. One JSON line per metric.
#include "kernelgate/exec/docker_executor.hpp"

#include "bench_support.hpp"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace kg = kernelgate;
namespace fs = std::filesystem;
using namespace kgbench;

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
    peer_process peer({.argv = {"/usr/bin/python3", (fs::path(__FILE__).parent_path() / "peer_docker.py").string(),
                                image, peer_dir.string()}});
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
    for (std::size_t k = 0; k < kinds.size(); ++k)
      print_median_and_p99("docker_block_" + kinds[k].language, block_ours[k], block_peer[k], peer_name, "ms");
    print_median("docker_container_start", start_ours, start_peer,
                 "docker-py 5: AutoGen's start (from_env, create, start, reload until running)", "ms");
    print_median("docker_container_stop", stop_ours, stop_peer,
                 "docker-py 5: AutoGen's stop (container.stop(), default grace period)", "ms");
  } catch (const std::exception& e) {
    std::cerr << "bench_docker: " << e.what() << "\n";
    status = 1;
  }
  std::error_code ec;
  fs::remove_all(base, ec);
  return status;
}
