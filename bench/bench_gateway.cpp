// Kernels through jupyter-server's WebSocket, side by side in one run and through one server:
//  - kernelgate (gateway transport + kernel_client),
//  - a Python client over tornado's WebSocket (bench/peer_gateway.py, Debian python3-tornado),
//  - @jupyterlab/services on Node (bench/bench_gateway_node, npm-installed on first run).
// Metrics: `pass` round trip (execute_request sent -> execute_reply and IOPub idle received), median
// and p99, measured in interleaved rounds so drift hits everyone alike; and the time to receive a
// 50 MiB stdout stream (the server runs with its IOPub rate limits off).
// Prints one JSON line per metric and peer.
#include "kernelgate/client/kernel_client.hpp"
#include "kernelgate/gateway/gateway_client.hpp"
#include "kernelgate/gateway/gateway_transport.hpp"
#include "kernelgate/wire/message.hpp"

#include "bench_support.hpp"
#include "detail/loopback.hpp"

#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace kg = kernelgate;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace kgbench;

namespace {

const fs::path bench_dir = fs::path(__FILE__).parent_path();

struct peer {
  std::string name;
  std::unique_ptr<peer_process> process;
  std::vector<double> rt;
};

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 10;
  const int per_round = argc > 2 ? std::atoi(argv[2]) : 30;
  const auto dir = fs::temp_directory_path() / ("kernelgate-bench-gateway-" + kg::random_hex_id().substr(0, 8));
  fs::create_directories(dir / "root");
  fs::create_directories(dir / "runtime");
  ::setenv("JUPYTER_RUNTIME_DIR", (dir / "runtime").c_str(), 1);
  const std::string token = kg::random_hex_id();
  const int port = kg::detail::bind_loopback_port().port;
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  const std::vector<std::string> server_argv{
      "/usr/bin/python3", "-m", "jupyter_server", "--ServerApp.ip=127.0.0.1", "--ServerApp.port=" + std::to_string(port),
      "--ServerApp.port_retries=0", "--allow-root", "--no-browser", "--ServerApp.token=" + token,
      "--ServerApp.root_dir=" + (dir / "root").string(), "--ServerApp.iopub_data_rate_limit=0",
      "--ServerApp.iopub_msg_rate_limit=0"};
  // Its log is not needed: the server's own figures are not measured.
  std::optional<kg::detail::child_process> server = kg::detail::child_process::spawn(
      {.argv = server_argv, .out = kg::detail::stdio::null, .err = kg::detail::stdio::null});
  kg::gateway_client rest({.url = url, .token = token});
  for (const auto started = clock_type::now();;) {
    try {
      (void)rest.api_info();
      break;
    } catch (const kg::error&) {
    }
    if (!server->running() || seconds_since(started) > 60) {
      std::cerr << "bench_gateway: jupyter-server did not answer on " << url
                << " within 60 s; run it by hand to see why:\n ";
      for (const auto& a : server_argv) std::cerr << ' ' << a;
      std::cerr << '\n';
      return 1;
    }
    std::this_thread::sleep_for(100ms);
  }

  std::vector<peer> peers;
  peers.push_back({"python tornado websocket",
                   std::make_unique<peer_process>(peer_options{
                       .argv = {"/usr/bin/python3", (bench_dir / "peer_gateway.py").string(), url, token}, .quiet = true})});
  const auto node_dir = bench_dir / "bench_gateway_node";
  if (!fs::exists(node_dir / "node_modules" / "@jupyterlab" / "services")) {
    const std::string install = "npm install --prefix '" + node_dir.string() + "' --no-audit --no-fund >&2";
    if (std::system(install.c_str()) != 0) std::cerr << "bench_gateway: npm install failed; no Node peer\n";
  }
  if (fs::exists(node_dir / "node_modules" / "@jupyterlab" / "services")) {
    peers.push_back({"@jupyterlab/services (node)",
                     std::make_unique<peer_process>(peer_options{
                         .argv = {"node", (node_dir / "peer.mjs").string(), url, token}, .cwd = node_dir, .quiet = true})});
  }

  const auto kernel = rest.start_kernel({.name = "python3"});
  kg::kernel_client client(kg::make_gateway_transport({.gateway = {.url = url, .token = token}, .kernel_id = kernel.id}));
  (void)client.wait_for_ready(60s);

  auto ours_rt = [&](int n, std::vector<double>* into) {
    for (int i = 0; i < n; ++i) {
      const auto t0 = clock_type::now();
      kg::execute_request req{.code = "pass", .stop_on_error = false};
      (void)client.execute(std::move(req), 30s);
      if (into) into->push_back(ms_since(t0));
    }
  };
  // Warm up everyone (imports, JIT, server caches).
  ours_rt(20, nullptr);
  for (auto& p : peers) (void)p.process->ask("rt 20");

  std::vector<double> ours;
  for (int r = 0; r < rounds; ++r) {
    ours_rt(per_round, &ours);
    for (auto& p : peers) {
      for (const auto& v : p.process->ask("rt " + std::to_string(per_round))) p.rt.push_back(v.get<double>());
    }
  }
  for (const auto& p : peers) print_median_and_p99("gateway_pass_roundtrip", ours, p.rt, p.name, "ms");

  // 50 MiB of stdout: 51200 lines of 1 KiB.
  const std::string code = "import sys\nline = 'x' * 1023 + '\\n'\nfor _ in range(51200):\n    sys.stdout.write(line)\nsys.stdout.flush()";
  std::size_t bytes = 0;
  const auto t0 = clock_type::now();
  kg::execute_request req{.code = code, .stop_on_error = false};
  req.on_output = [&bytes](const kg::output& o) {
    if (o.kind == kg::output_kind::stream && o.name == "stdout") bytes += o.text.size();
  };
  (void)client.execute(std::move(req), 600s);
  const double ours_stream = seconds_since(t0);
  for (auto& p : peers) {
    const auto r = p.process->ask("stream " + nlohmann::json(code).dump());
    if (r.at("bytes").get<std::size_t>() != bytes) {
      std::cerr << p.name << " received " << r.at("bytes") << " bytes, kernelgate " << bytes << "\n";
    }
    print_metric({.name = "gateway_stream_50MiB_receive", .ours = ours_stream, .peer = r.at("seconds").get<double>(),
                  .peer_name = p.name, .unit = "s"});
  }
  if (bytes != 51200u * 1024u) std::cerr << "kernelgate received " << bytes << " bytes of 52428800\n";

  client.close();
  rest.delete_kernel(kernel.id);
  peers.clear();
  // A graceful stop, so that the server shuts down any kernel left (its kernels run in sessions
  // of their own, out of reach of a signal to its process group).
  server->signal(SIGTERM);
  (void)server->wait_for(std::chrono::seconds(15));
  server.reset();
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}
