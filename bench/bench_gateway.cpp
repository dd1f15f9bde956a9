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

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace kg = kernelgate;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

const fs::path bench_dir = fs::path(__FILE__).parent_path();

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  if (q == 0.5) return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  const auto i = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// A child process with its stdin and stdout as pipes (or stdout/stderr to a log file).
struct child {
  pid_t pid = -1;
  FILE* in = nullptr;
  FILE* out = nullptr;

  child(const std::vector<std::string>& args, const fs::path& log, bool pipes, const fs::path& cwd = {}) {
    int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (pipes) {
      if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
      posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
      posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
      posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    } else {
      posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
      posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      posix_spawn_file_actions_adddup2(&fa, 1, 2);
    }
    if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    if (posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), environ) != 0) throw std::runtime_error("cannot start " + args[0]);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (pipes) {
      ::close(in_pipe[0]);
      ::close(out_pipe[1]);
      in = fdopen(in_pipe[1], "w");
      out = fdopen(out_pipe[0], "r");
    }
  }
  child(const child&) = delete;
  child& operator=(const child&) = delete;
  ~child() {
    if (in) std::fclose(in);
    if (out) std::fclose(out);
    if (pid > 0) {
      ::kill(-pid, SIGTERM);
      for (int i = 0; i < 100; ++i) {
        if (::waitpid(pid, nullptr, WNOHANG) == pid) return;
        std::this_thread::sleep_for(100ms);
      }
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }

  nlohmann::json ask(const std::string& command) {
    std::fprintf(in, "%s\n", command.c_str());
    std::fflush(in);
    std::string line;
    for (int c; (c = std::fgetc(out)) != EOF && c != '\n';) line += static_cast<char>(c);
    if (line.empty()) throw std::runtime_error("peer ended without answering '" + command + "'");
    return nlohmann::json::parse(line);
  }
};

struct peer {
  std::string name;
  std::unique_ptr<child> process;
  std::vector<double> rt;
  double stream_seconds = 0;
};

void print(const std::string& metric, double ours, const peer& p, double theirs, const char* unit) {
  std::cout << nlohmann::json{{"metric", metric}, {"kernelgate", ours}, {"peer", theirs}, {"peer_name", p.name},
                              {"ratio", theirs > 0 ? ours / theirs : 0.0}, {"unit", unit}}
                   .dump()
            << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 10;
  const int per_round = argc > 2 ? std::atoi(argv[2]) : 30;
  const auto dir = fs::temp_directory_path() / ("kernelgate-bench-gateway-" + kg::random_hex_id().substr(0, 8));
  fs::create_directories(dir / "root");
  fs::create_directories(dir / "runtime");
  const auto log = dir / "server.log";
  ::setenv("JUPYTER_RUNTIME_DIR", (dir / "runtime").c_str(), 1);
  const std::string token = kg::random_hex_id();
  const int port = free_port();
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  std::optional<child> server;
  server.emplace(std::vector<std::string>{"/usr/bin/python3", "-m", "jupyter_server", "--ServerApp.ip=127.0.0.1",
                                          "--ServerApp.port=" + std::to_string(port), "--ServerApp.port_retries=0",
                                          "--allow-root", "--no-browser", "--ServerApp.token=" + token,
                                          "--ServerApp.root_dir=" + (dir / "root").string(),
                                          "--ServerApp.iopub_data_rate_limit=0", "--ServerApp.iopub_msg_rate_limit=0"},
                 log, false);
  for (int i = 0;; ++i) {
    std::ifstream in(log);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.find("is running at") != std::string::npos) break;
    if (i > 600) {
      std::cerr << "jupyter-server did not start:\n" << text;
      return 1;
    }
    std::this_thread::sleep_for(100ms);
  }

  std::vector<peer> peers;
  peers.push_back({"python tornado websocket", std::make_unique<child>(
                                                   std::vector<std::string>{"/usr/bin/python3",
                                                                            (bench_dir / "peer_gateway.py").string(), url, token},
                                                   dir / "peer_python.log", true)});
  const auto node_dir = bench_dir / "bench_gateway_node";
  if (!fs::exists(node_dir / "node_modules" / "@jupyterlab" / "services")) {
    const std::string install = "npm install --prefix '" + node_dir.string() + "' --no-audit --no-fund >&2";
    if (std::system(install.c_str()) != 0) std::cerr << "bench_gateway: npm install failed; no Node peer\n";
  }
  if (fs::exists(node_dir / "node_modules" / "@jupyterlab" / "services")) {
    peers.push_back({"@jupyterlab/services (node)",
                     std::make_unique<child>(std::vector<std::string>{"node", (node_dir / "peer.mjs").string(), url, token},
                                             dir / "peer_node.log", true, node_dir)});
  }

  kg::gateway_client rest({.url = url, .token = token});
  const auto kernel = rest.start_kernel({.name = "python3"});
  kg::kernel_client client(kg::make_gateway_transport({.gateway = {.url = url, .token = token}, .kernel_id = kernel.id}));
  (void)client.wait_for_ready(60s);

  auto ours_rt = [&](int n, std::vector<double>* into) {
    for (int i = 0; i < n; ++i) {
      const auto t0 = clock_type::now();
      kg::execute_request req{.code = "pass", .stop_on_error = false};
      (void)client.execute(std::move(req), 30s);
      if (into) into->push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
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
  for (const auto& p : peers) {
    print("gateway_pass_roundtrip_median", percentile(ours, 0.5), p, percentile(p.rt, 0.5), "ms");
    print("gateway_pass_roundtrip_p99", percentile(ours, 0.99), p, percentile(p.rt, 0.99), "ms");
  }

  // 50 MiB of stdout: 51200 lines of 1 KiB.
  const std::string code = "import sys\nline = 'x' * 1023 + '\\n'\nfor _ in range(51200):\n    sys.stdout.write(line)\nsys.stdout.flush()";
  std::size_t bytes = 0;
  const auto t0 = clock_type::now();
  kg::execute_request req{.code = code, .stop_on_error = false};
  req.on_output = [&bytes](const kg::output& o) {
    if (o.kind == kg::output_kind::stream && o.name == "stdout") bytes += o.text.size();
  };
  (void)client.execute(std::move(req), 600s);
  const double ours_stream = std::chrono::duration<double>(clock_type::now() - t0).count();
  for (auto& p : peers) {
    const auto r = p.process->ask("stream " + nlohmann::json(code).dump());
    if (r.at("bytes").get<std::size_t>() != bytes) {
      std::cerr << p.name << " received " << r.at("bytes") << " bytes, kernelgate " << bytes << "\n";
    }
    print("gateway_stream_50MiB_receive", ours_stream, p, r.at("seconds").get<double>(), "s");
  }
  if (bytes != 51200u * 1024u) std::cerr << "kernelgate received " << bytes << " bytes of 52428800\n";

  for (auto& p : peers) {
    std::fprintf(p.process->in, "quit\n");
    std::fflush(p.process->in);
  }
  client.close();
  rest.delete_kernel(kernel.id);
  peers.clear();
  server.reset();
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}
