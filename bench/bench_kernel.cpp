// kernelgate's kernel_session against jupyter_client's BlockingKernelClient (bench/peer_kernel.py,
// run with /usr/bin/python3) on the same kernelspec, in one run:
//  (a) `pass` round trips (request sent -> execute_reply and IOPub idle): median and p99,
//  (b) receiving 50 MB of stdout: median time,
//  (c) start-to-ready: median.
// Phases alternate between the two clients so machine drift hits both alike. One JSON line per metric.
//
// The kernel commands differ in one argument: kernel_session starts ipykernel without its 0.5 ms
// pause before each execute_reply (kernel_start_options::ipython_reply_pause; its client reads
// outputs up to idle), jupyter_client keeps it. So the round trips are measured twice for
// kernelgate: as users get it, and in a kernel that keeps the pause
// (pass_round_trip_same_kernel_command), which compares the clients alone.
#include "kernelgate/kernel/kernel_session.hpp"

#include "bench_support.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace kg = kernelgate;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

using namespace kgbench;

namespace {

constexpr const char* kernel_name = "python3";
constexpr const char* peer_name = "jupyter_client 7.4.9 BlockingKernelClient (bench/peer_kernel.py)";

// bench/peer_kernel.py with arguments; returns its JSON line.
nlohmann::json run_peer(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/bin/python3", (fs::path(__FILE__).parent_path() / "peer_kernel.py").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return nlohmann::json::parse(run_peer_to_end(argv));
}

std::vector<double> doubles(const nlohmann::json& j) { return j.get<std::vector<double>>(); }

std::string stream_code(std::size_t bytes) {
  return "import sys\n_line = 'x' * 1023 + '\\n'\nfor _ in range(" + std::to_string(bytes / 1024) +
         "):\n    sys.stdout.write(_line)\nsys.stdout.flush()\n";
}

}  // namespace

int main(int argc, char** argv) {
  const int rt_n = argc > 1 ? std::stoi(argv[1]) : 1000;
  const int starts = argc > 2 ? std::stoi(argv[2]) : 5;
  const std::size_t stream_bytes = 50u * 1024 * 1024;
  const int stream_rounds = 3;
  const fs::path work = fs::temp_directory_path() / "kernelgate-bench-kernel";
  fs::create_directories(work);
  try {
    // (c) start-to-ready, alternating.
    std::vector<double> start_ours, start_peer;
    for (int i = 0; i < starts; ++i) {
      const auto t0 = clock_type::now();
      auto s = kg::kernel_session::start({.kernel = kernel_name, .work_dir = work});
      start_ours.push_back(ms_since(t0));
      s.shutdown();
      start_peer.push_back(run_peer({"start"}).at("ms").get<double>());
    }

    // (a) round trips: five batches each, alternating, so load changes on this shared machine hit
    // both clients alike.
    std::vector<double> rt_ours, rt_same_command, rt_peer;
    {
      constexpr int batches = 5;
      auto s = kg::kernel_session::start({.kernel = kernel_name, .work_dir = work});
      kg::kernel_start_options with_pause{.kernel = kernel_name, .work_dir = work};
      with_pause.ipython_reply_pause = true;
      auto paused = kg::kernel_session::start(with_pause);
      const auto round_trips = [&](kg::kernel_client& c, int n, std::vector<double>* into) {
        for (int i = 0; i < n; ++i) {
          const auto t0 = clock_type::now();
          (void)c.execute("pass", 60s);
          if (into) into->push_back(ms_since(t0));
        }
      };
      round_trips(s.client(), 20, nullptr);  // warm-up, as the peer does
      round_trips(paused.client(), 20, nullptr);
      for (int b = 0; b < batches; ++b) {
        round_trips(s.client(), rt_n / batches, &rt_ours);
        for (double v : doubles(run_peer({"rt", std::to_string(rt_n / batches)}).at("ms"))) rt_peer.push_back(v);
        round_trips(paused.client(), rt_n / batches, &rt_same_command);
      }
    }

    // (b) 50 MB of stdout.
    std::vector<double> stream_ours, stream_peer;
    std::size_t ours_bytes = 0, peer_bytes = 0;
    {
      auto s = kg::kernel_session::start({.kernel = kernel_name, .work_dir = work});
      const std::string code = stream_code(stream_bytes);
      for (int i = 0; i < stream_rounds; ++i) {
        const auto t0 = clock_type::now();
        auto r = s.execute(code, {.timeout = 600s});
        stream_ours.push_back(ms_since(t0));
        std::size_t got = 0;
        for (const auto& o : r.outputs) got += o.text.size();
        ours_bytes = got;
      }
      const auto peer = run_peer({"stream", std::to_string(stream_bytes), std::to_string(stream_rounds)});
      stream_peer = doubles(peer.at("ms"));
      peer_bytes = peer.at("bytes").back().get<std::size_t>();
    }
    if (ours_bytes != stream_bytes || peer_bytes != stream_bytes)
      std::cerr << "warning: stream sizes differ: kernelgate " << ours_bytes << ", peer " << peer_bytes << ", expected "
                << stream_bytes << "\n";

    print_median_and_p99("pass_round_trip", rt_ours, rt_peer, peer_name, "ms");
    print_median("pass_round_trip_same_kernel_command", rt_same_command, rt_peer, peer_name, "ms");
    print_median("stdout_50MB_time", stream_ours, stream_peer, peer_name, "ms");
    print_median("start_to_ready", start_ours, start_peer, peer_name, "ms");
  } catch (const std::exception& e) {
    std::cerr << "bench_kernel: " << e.what() << "\n";
    fs::remove_all(work);
    return 1;
  }
  fs::remove_all(work);
  return 0;
}
