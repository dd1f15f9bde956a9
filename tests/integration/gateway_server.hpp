#ifndef KERNELGATE_TESTS_GATEWAY_SERVER_HPP
#define KERNELGATE_TESTS_GATEWAY_SERVER_HPP

// Starts Debian's jupyter-server for a test: 127.0.0.1, a free port, a random token, a temporary
// root and runtime directory, optionally HTTPS; stops it (and every kernel it started) afterwards.

#include "detail/process.hpp"
#include "kernelgate/error.hpp"
#include "kernelgate/wire/message.hpp"
#include "support.hpp"
#include "unit/wire_support.hpp"  // error_from

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace kgtest {

struct gateway_server_options {
  std::filesystem::path certfile, keyfile;  ///< both set: HTTPS
  std::vector<std::string> extra_args;      ///< e.g. --ServerApp.iopub_data_rate_limit=0
};

/// True when Debian's jupyter-server can be started here.
inline bool have_jupyter_server() {
  return std::system("/usr/bin/python3 -c 'import jupyter_server, ipykernel' >/dev/null 2>&1") == 0;
}

class gateway_server {
 public:
  explicit gateway_server(gateway_server_options options = {}) : options_(std::move(options)) {
    require_service(have_jupyter_server(), "jupyter-server (Debian python3-jupyter-server, python3-ipykernel)");
    token_ = kernelgate::random_hex_id();
    std::filesystem::create_directories(dir_.path() / "root");
    std::filesystem::create_directories(dir_.path() / "runtime");
    std::filesystem::create_directories(dir_.path() / "config");
    // A port chosen now may be taken before the server binds it: try again with another.
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (start(free_loopback_port())) return;
    }
    throw std::runtime_error("jupyter-server did not start; its log:\n" + log());
  }
  gateway_server(const gateway_server&) = delete;
  gateway_server& operator=(const gateway_server&) = delete;
  ~gateway_server() { stop(); }

  [[nodiscard]] std::string url() const {
    return std::string(https() ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
  }
  [[nodiscard]] const std::string& token() const { return token_; }
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] bool https() const { return !options_.certfile.empty(); }
  [[nodiscard]] std::string log() const {
    std::lock_guard lock(mutex_);
    return log_;
  }

  /// SIGKILL, as a crash: the server gets no chance to say goodbye. Its kernels are killed too.
  void kill() {
    if (!process_) return;
    process_->kill_and_reap();
    kill_orphaned_kernels();
    join_reader();
    process_.reset();
  }

  /// SIGTERM, then SIGKILL if it lingers; every kernel it started is gone afterwards.
  void stop() noexcept {
    if (!process_) return;
    process_->signal(SIGTERM);
    if (!process_->wait_for(std::chrono::seconds(15))) process_->kill_and_reap();
    kill_orphaned_kernels();  // they hold the log pipe open
    join_reader();
    process_.reset();
  }

 private:
  bool start(int port) {
    kernelgate::detail::process_options po;
    po.argv = {"/usr/bin/python3", "-m", "jupyter_server", "--ServerApp.ip=127.0.0.1",
               "--ServerApp.port=" + std::to_string(port), "--ServerApp.port_retries=0", "--allow-root",
               "--no-browser", "--ServerApp.token=" + token_,
               "--ServerApp.root_dir=" + (dir_.path() / "root").string()};
    if (https()) {
      po.argv.push_back("--ServerApp.certfile=" + options_.certfile.string());
      po.argv.push_back("--ServerApp.keyfile=" + options_.keyfile.string());
    }
    for (const auto& a : options_.extra_args) po.argv.push_back(a);
    auto env = kernelgate::detail::current_environment();
    env["JUPYTER_RUNTIME_DIR"] = (dir_.path() / "runtime").string();
    env["JUPYTER_CONFIG_DIR"] = (dir_.path() / "config").string();
    po.env = env;
    po.merge_stderr = true;
    po.out = kernelgate::detail::stdio::pipe;
    po.err = kernelgate::detail::stdio::pipe;
    process_.emplace(kernelgate::detail::child_process::spawn(po));
    {
      std::lock_guard lock(mutex_);
      ready_ = false;
      ended_ = false;
    }
    reader_ = std::thread([this, fd = process_->take_stdout()] { read_log(fd.get()); });
    std::unique_lock lock(mutex_);
    const bool settled = cv_.wait_for(lock, std::chrono::seconds(60), [this] { return ready_ || ended_; });
    const bool ok = settled && ready_;
    lock.unlock();
    if (ok) {
      port_ = port;
      return true;
    }
    process_->kill_and_reap();
    join_reader();
    process_.reset();
    return false;
  }

  // Drains the server's output for its whole life (a full pipe would block the server).
  void read_log(int fd) {
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      std::lock_guard lock(mutex_);
      if (n <= 0) {
        ended_ = true;
        cv_.notify_all();
        return;
      }
      log_.append(buf, static_cast<std::size_t>(n));
      if (!ready_ && log_.find("is running at") != std::string::npos) {
        ready_ = true;
        cv_.notify_all();
      }
    }
  }

  void join_reader() {
    if (reader_.joinable()) reader_.join();
  }

  // Kernels run in sessions of their own, so a killed server leaves them behind; they are found by
  // their connection files, which live in this server's runtime directory.
  void kill_orphaned_kernels() noexcept {
    const std::string marker = (dir_.path() / "runtime").string();
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
      const auto name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream in(entry.path() / "cmdline", std::ios::binary);
      const std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (cmdline.find(marker) != std::string::npos) ::kill(std::stoi(name), SIGKILL);
    }
  }

  gateway_server_options options_;
  temp_dir dir_;
  std::string token_;
  int port_ = 0;
  std::optional<kernelgate::detail::child_process> process_;
  std::thread reader_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::string log_;
  bool ready_ = false;
  bool ended_ = false;
};

/// A CA and a server certificate for 127.0.0.1 signed by it, made with the openssl command.
struct test_pki {
  temp_dir dir;
  std::filesystem::path ca_cert, server_cert, server_key, other_ca_cert;

  test_pki() {
    const auto d = dir.path().string();
    ca_cert = dir.path() / "ca.pem";
    server_cert = dir.path() / "server.pem";
    server_key = dir.path() / "server.key";
    other_ca_cert = dir.path() / "other-ca.pem";
    const std::string q = " >/dev/null 2>&1";
    const std::vector<std::string> steps = {
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=kernelgate-test-ca -keyout " + d +
            "/ca.key -out " + d + "/ca.pem" + q,
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=kernelgate-other-ca -keyout " + d +
            "/other-ca.key -out " + d + "/other-ca.pem" + q,
        "openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout " + d + "/server.key -out " + d +
            "/server.csr" + q,
        "printf 'subjectAltName=IP:127.0.0.1\\n' > " + d + "/san.ext",
        "openssl x509 -req -in " + d + "/server.csr -CA " + d + "/ca.pem -CAkey " + d +
            "/ca.key -CAcreateserial -days 2 -extfile " + d + "/san.ext -out " + d + "/server.pem" + q,
    };
    for (const auto& s : steps) {
      if (std::system(s.c_str()) != 0) throw std::runtime_error("openssl failed: " + s);
    }
  }
};

/// A loopback TCP proxy to 127.0.0.1:target_port whose open connections a test can cut, as a
/// network fault would; new connections are accepted and forwarded as before.
class tcp_proxy {
 public:
  explicit tcp_proxy(int target_port) : target_port_(target_port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener_, 16) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ::close(listener_);
      throw std::runtime_error("tcp_proxy: cannot listen");
    }
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  tcp_proxy(const tcp_proxy&) = delete;
  tcp_proxy& operator=(const tcp_proxy&) = delete;
  ~tcp_proxy() {
    ::shutdown(listener_, SHUT_RDWR);
    acceptor_.join();
    cut();
    for (auto& t : pumps_) t.join();
    ::close(listener_);
  }

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] int connections() const {
    std::lock_guard lock(mutex_);
    return accepted_;
  }

  /// Breaks every open connection (both directions, both ends).
  void cut() {
    std::lock_guard lock(mutex_);
    for (int fd : open_) ::shutdown(fd, SHUT_RDWR);
  }

 private:
  void accept_loop() {
    for (;;) {
      const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) {
        if (errno == EINTR) continue;
        return;
      }
      const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(static_cast<std::uint16_t>(target_port_));
      if (::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(server);
        ::close(client);
        continue;
      }
      std::lock_guard lock(mutex_);
      ++accepted_;
      open_.push_back(client);
      open_.push_back(server);
      pumps_.emplace_back([this, client, server] { pump(client, server); });
    }
  }

  void pump(int a, int b) {
    pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    char buf[65536];
    bool done = false;
    while (!done) {
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      for (int i = 0; i < 2 && !done; ++i) {
        if (fds[i].revents == 0) continue;
        const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          done = true;
          break;
        }
        for (ssize_t off = 0; off < n;) {
          const ssize_t w = ::write(fds[1 - i].fd, buf + off, static_cast<std::size_t>(n - off));
          if (w <= 0) {
            done = true;
            break;
          }
          off += w;
        }
      }
    }
    std::lock_guard lock(mutex_);
    for (int fd : {a, b}) {
      ::shutdown(fd, SHUT_RDWR);
      open_.erase(std::remove(open_.begin(), open_.end(), fd), open_.end());
      ::close(fd);
    }
  }

  int target_port_;
  int listener_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  mutable std::mutex mutex_;
  std::vector<int> open_;
  std::vector<std::thread> pumps_;
  int accepted_ = 0;
};

}  // namespace kgtest

#endif
