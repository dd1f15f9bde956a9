// kernelgate's kernel_session against jupyter_client's BlockingKernelClient (bench/peer_kernel.py,
// run with /usr/bin/python3) on the same kernelspec, in one run:
//  (a) `pass` round trips (request sent -> execute_reply and IOPub idle): median and p99,
//  (b) receiving 50 MB of stdout: median time,
//  (c) start-to-ready: median.
// Phases alternate between the two clients so machine drift hits both alike. One JSON line per metric.
#include "kernelgate/kernel/kernel_session.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace kg = kernelgate;
namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr const char* kernel_name = "python3";
constexpr const char* peer_name = "jupyter_client 7.4.9 BlockingKernelClient (bench/peer_kernel.py)";

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}
double median(const std::vector<double>& v) { return percentile(v, 0.5); }

// Runs the peer script with arguments and returns its JSON line. The kernel's own chatter on
// stderr is discarded.
nlohmann::json run_peer(const std::string& args) {
  const fs::path script = fs::path(__FILE__).parent_path() / "peer_kernel.py";
  const std::string cmd = "/usr/bin/python3 '" + script.string() + "' " + args + " 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) throw std::runtime_error("cannot run " + cmd);
  std::string out;
  char buf[65536];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  if (::pclose(p) != 0) throw std::runtime_error("peer failed: " + cmd);
  return nlohmann::json::parse(out);
}

std::vector<double> doubles(const nlohmann::json& j) { return j.get<std::vector<double>>(); }

void print_metric(const std::string& metric, double ours, double peer, const std::string& unit) {
  std::cout << nlohmann::json{{"metric", metric}, {"kernelgate", ours},   {"peer", peer},
                              {"peer_name", peer_name}, {"ratio", peer > 0 ? ours / peer : 0.0}, {"unit", unit}}
                   .dump()
            << std::endl;
}

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
      start_peer.push_back(run_peer("start").at("ms").get<double>());
    }

    // (a) round trips: five batches each, alternating, so load changes on this shared machine hit
    // both clients alike.
    std::vector<double> rt_ours, rt_peer;
    {
      constexpr int batches = 5;
      auto s = kg::kernel_session::start({.kernel = kernel_name, .work_dir = work});
      auto& c = s.client();
      for (int i = 0; i < 20; ++i) (void)c.execute("pass", 60s);  // warm-up, as the peer does
      for (int b = 0; b < batches; ++b) {
        for (int i = 0; i < rt_n / batches; ++i) {
          const auto t0 = clock_type::now();
          (void)c.execute("pass", 60s);
          rt_ours.push_back(ms_since(t0));
        }
        for (double v : doubles(run_peer("rt " + std::to_string(rt_n / batches)).at("ms"))) rt_peer.push_back(v);
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
      const auto peer = run_peer("stream " + std::to_string(stream_bytes) + " " + std::to_string(stream_rounds));
      stream_peer = doubles(peer.at("ms"));
      peer_bytes = peer.at("bytes").back().get<std::size_t>();
    }
    if (ours_bytes != stream_bytes || peer_bytes != stream_bytes)
      std::cerr << "warning: stream sizes differ: kernelgate " << ours_bytes << ", peer " << peer_bytes << ", expected "
                << stream_bytes << "\n";

    print_metric("pass_round_trip_median", median(rt_ours), median(rt_peer), "ms");
    print_metric("pass_round_trip_p99", percentile(rt_ours, 0.99), percentile(rt_peer, 0.99), "ms");
    print_metric("stdout_50MB_time_median", median(stream_ours), median(stream_peer), "ms");
    print_metric("start_to_ready_median", median(start_ours), median(start_peer), "ms");
  } catch (const std::exception& e) {
    std::cerr << "bench_kernel: " << e.what() << "\n";
    fs::remove_all(work);
    return 1;
  }
  fs::remove_all(work);
  return 0;
}
