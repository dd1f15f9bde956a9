#include <doctest/doctest.h>

#include "docker/protocol.hpp"
#include "kernelgate/docker/client.hpp"
#include "kernelgate/error.hpp"
#include "support.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kg = kernelgate;
namespace kd = kernelgate::docker;
namespace dd = kernelgate::docker::detail;
using namespace std::chrono_literals;

namespace {

// One accepted connection of the fake daemon: read requests, write whatever the script says.
class peer {
 public:
  explicit peer(int fd) : fd_(fd) {}
  // The next request's head and body; empty when the client closed.
  std::string read_request() {
    for (;;) {
      const auto end = buf_.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::size_t len = 0;
        const auto cl = lower(buf_.substr(0, end)).find("content-length:");
        if (cl != std::string::npos) len = std::stoul(buf_.substr(cl + 15));
        if (buf_.size() >= end + 4 + len) {
          auto req = buf_.substr(0, end + 4 + len);
          buf_.erase(0, end + 4 + len);
          return req;
        }
      }
      char tmp[4096];
      const auto n = ::read(fd_, tmp, sizeof tmp);
      if (n <= 0) return {};
      buf_.append(tmp, static_cast<std::size_t>(n));
    }
  }
  void write(const std::string& s) {
    std::size_t off = 0;
    while (off < s.size()) {
      const auto n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<std::size_t>(n);
    }
  }
  // Waits until the client closes its end.
  void drain() {
    char tmp[256];
    while (::read(fd_, tmp, sizeof tmp) > 0) {
    }
  }

 private:
  static std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
  int fd_;
  std::string buf_;
};

using script = std::function<void(peer&)>;

// A fake Docker daemon on a Unix socket; each accepted connection runs the next script.
class fake_daemon {
 public:
  fake_daemon() {
    path_ = (dir_.path() / "docker.sock").string();
    listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listener_, 8) == 0);
    stop_ = ::eventfd(0, EFD_CLOEXEC);
    thread_ = std::thread([this] { serve(); });
  }
  fake_daemon(const fake_daemon&) = delete;
  fake_daemon& operator=(const fake_daemon&) = delete;
  ~fake_daemon() {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(stop_, &one, sizeof one);
    thread_.join();
    for (auto& w : workers_) w.join();
    ::close(listener_);
    ::close(stop_);
  }

  void then(script s) {
    const std::lock_guard lock(mutex_);
    scripts_.push_back(std::move(s));
  }
  [[nodiscard]] std::string host() const { return "unix://" + path_; }
  [[nodiscard]] int connections() const { return accepted_.load(); }
  [[nodiscard]] std::string last_target() {
    const std::lock_guard lock(mutex_);
    return last_target_;
  }
  void note_target(const std::string& req) {
    const std::lock_guard lock(mutex_);
    last_target_ = req.substr(0, req.find("\r\n"));
  }

 private:
  void serve() {
    for (;;) {
      pollfd fds[2] = {{listener_, POLLIN, 0}, {stop_, POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) continue;
      if ((fds[1].revents & POLLIN) != 0) return;
      const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      ++accepted_;
      script s;
      {
        const std::lock_guard lock(mutex_);
        if (!scripts_.empty()) {
          s = std::move(scripts_.front());
          scripts_.pop_front();
        }
      }
      // Each connection is served by its own thread, as a daemon does: a keep-alive connection
      // stays open while an exec or a pull uses another.
      workers_.emplace_back([fd, s = std::move(s)] {
        peer p(fd);
        if (s) s(p);
        ::close(fd);
      });
    }
  }

  kgtest::temp_dir dir_;
  std::string path_;
  int listener_ = -1;
  int stop_ = -1;
  std::mutex mutex_;
  std::deque<script> scripts_;
  std::string last_target_;
  std::atomic<int> accepted_{0};
  std::vector<std::thread> workers_;
  std::thread thread_;
};

std::string http_response(int status, const std::string& body, const std::string& type = "application/json",
                          const std::string& extra = {}) {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: " + type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
}

const std::string version_body = R"({"ApiVersion":"1.41","MinAPIVersion":"1.12","Version":"20.10.24"})";

// The version handshake, then more exchanges on the same keep-alive connection.
script version_then(std::vector<std::string> replies, fake_daemon* d = nullptr) {
  return [replies = std::move(replies), d](peer& p) {
    if (p.read_request().empty()) return;
    p.write(http_response(200, version_body));
    for (const auto& r : replies) {
      const auto req = p.read_request();
      if (req.empty()) return;
      if (d != nullptr) d->note_target(req);
      p.write(r);
    }
    p.drain();
  };
}

std::string frame(unsigned char type, const std::string& payload) {
  return dd::encode_frame(static_cast<dd::stream_id>(type), payload);
}

script hijacked(std::string stream_bytes) {
  return [stream_bytes = std::move(stream_bytes)](peer& p) {
    if (p.read_request().empty()) return;
    p.write("HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\n"
            "Upgrade: tcp\r\n\r\n" +
            stream_bytes);
  };
}

kg::errc condition_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const kg::error& e) {
    return e.condition();
  }
  FAIL("no kernelgate::error thrown");
  return kg::errc::invalid_argument;
}

}  // namespace

TEST_CASE("requests are versioned, carry Host, and daemon errors keep status and message") {
  fake_daemon d;
  d.then(version_then({http_response(500, R"({"message":"OCI runtime create failed: boom"})")}, &d));
  kd::client c({.host = d.host()});
  CHECK(c.api_version() == "1.41");
  try {
    c.start_container("abc");
    FAIL("a 500 accepted");
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::docker_api);
    CHECK(e.http_status() == 500);
    CHECK(std::string(e.what()).find("OCI runtime create failed: boom") != std::string::npos);
  }
  CHECK(d.last_target() == "POST /v1.41/containers/abc/start HTTP/1.1");
  // Raw paths cannot smuggle headers or a second request.
  CHECK(condition_of([&] { (void)c.request("GET", "/info HTTP/1.1\r\nX-Evil: 1\r\n\r\nGET /x"); }) ==
        kg::errc::invalid_argument);
  CHECK(condition_of([&] { (void)c.request("GET", "info"); }) == kg::errc::invalid_argument);
}

TEST_CASE("malformed answers become typed errors, never crashes") {
  SUBCASE("not HTTP at all") {
    fake_daemon d;
    d.then([](peer& p) {
      (void)p.read_request();
      p.write("SSH-2.0-OpenSSH_9.2\r\n\r\n");
    });
    CHECK(condition_of([&] { kd::client c({.host = d.host()}); }) == kg::errc::protocol_error);
  }
  SUBCASE("a version answer that is not JSON") {
    fake_daemon d;
    d.then([](peer& p) {
      (void)p.read_request();
      p.write(http_response(200, "<html>proxy</html>", "text/html"));
    });
    CHECK(condition_of([&] { kd::client c({.host = d.host()}); }) == kg::errc::protocol_error);
  }
  SUBCASE("a daemon too old for kernelgate") {
    fake_daemon d;
    d.then([](peer& p) {
      (void)p.read_request();
      p.write(http_response(200, R"({"ApiVersion":"1.24","MinAPIVersion":"1.12"})"));
    });
    CHECK(condition_of([&] { kd::client c({.host = d.host()}); }) == kg::errc::docker_api);
  }
  SUBCASE("the connection closes before an answer") {
    fake_daemon d;
    d.then([](peer& p) { (void)p.read_request(); });
    CHECK(condition_of([&] { kd::client c({.host = d.host()}); }) == kg::errc::connection_failed);
  }
  SUBCASE("a truncated body") {
    fake_daemon d;
    d.then([](peer& p) {
      (void)p.read_request();
      p.write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"ApiVersion\"");
    });
    CHECK(condition_of([&] { kd::client c({.host = d.host()}); }) == kg::errc::connection_failed);
  }
  SUBCASE("a create answer without an Id") {
    fake_daemon d;
    d.then(version_then({http_response(201, R"({"Warnings":[]})")}));
    kd::client c({.host = d.host()});
    CHECK(condition_of([&] { (void)c.create_container({{"Image", "x"}}); }) == kg::errc::protocol_error);
  }
}

TEST_CASE("a daemon that never answers gives a timeout, not a hang") {
  fake_daemon d;
  d.then([](peer& p) {
    (void)p.read_request();
    p.drain();  // say nothing until the client gives up
  });
  CHECK(condition_of([&] { kd::client c({.host = d.host(), .timeout = 300ms}); }) == kg::errc::timeout);
}

TEST_CASE("a keep-alive connection the daemon closed is replaced transparently") {
  fake_daemon d;
  d.then([](peer& p) {
    (void)p.read_request();
    p.write(http_response(200, version_body));
    // then close: the client's next request meets a dead connection
  });
  d.then(version_then({}));  // a fresh connection: answers one request (reusing the version reply)
  kd::client c({.host = d.host()});
  const auto r = c.request("GET", "/info");
  CHECK(r.status == 200);
  CHECK(d.connections() == 2);
}

TEST_CASE("exec streams: early bytes, truncation, and garbage frames") {
  SUBCASE("frames sent with the 101 header are not lost") {
    fake_daemon d;
    d.then(version_then({}));
    d.then(hijacked(frame(1, "out") + frame(2, "err")));
    kd::client c({.host = d.host()});
    auto s = c.start_exec("e1");
    std::string got;
    const auto end = s.pump([&](std::string_view n, std::string_view data) { got += std::string(n) + ":" + std::string(data) + ";"; },
                            std::chrono::steady_clock::now() + 5s);
    CHECK(end == kd::stream_end::eof);
    CHECK(got == "stdout:out;stderr:err;");
  }
  SUBCASE("a stream cut inside a frame") {
    fake_daemon d;
    d.then(version_then({}));
    d.then(hijacked(frame(1, "complete") + frame(1, "cut short").substr(0, 11)));
    kd::client c({.host = d.host()});
    auto s = c.start_exec("e1");
    std::string got;
    CHECK(condition_of([&] {
            (void)s.pump([&](std::string_view, std::string_view data) { got.append(data); },
                         std::chrono::steady_clock::now() + 5s);
          }) == kg::errc::connection_failed);
    CHECK(got.starts_with("complete"));
  }
  SUBCASE("an unframed (Tty) stream") {
    fake_daemon d;
    d.then(version_then({}));
    d.then(hijacked("plain text output\r\n"));
    kd::client c({.host = d.host()});
    auto s = c.start_exec("e1");
    CHECK(condition_of([&] {
            (void)s.pump([](std::string_view, std::string_view) {}, std::chrono::steady_clock::now() + 5s);
          }) == kg::errc::protocol_error);
  }
  SUBCASE("an error before the hijack is an API error") {
    fake_daemon d;
    d.then(version_then({}));
    d.then([](peer& p) {
      (void)p.read_request();
      p.write(http_response(404, R"({"message":"No such exec instance: e1"})"));
    });
    kd::client c({.host = d.host()});
    try {
      (void)c.start_exec("e1");
      FAIL("a 404 accepted");
    } catch (const kg::error& e) {
      CHECK(e.condition() == kg::errc::docker_api);
      CHECK(e.http_status() == 404);
      CHECK(std::string(e.what()).find("No such exec instance") != std::string::npos);
    }
  }
}

TEST_CASE("a pull reports progress and notices an error inside the stream") {
  fake_daemon d;
  d.then(version_then({}));
  d.then([](peer& p) {
    (void)p.read_request();
    const std::string l1 = R"({"status":"Pulling from library/python","id":"3-slim"})" "\r\n";
    const std::string l2 = R"({"errorDetail":{"message":"toomanyrequests: rate limit"},"error":"toomanyrequests"})" "\r\n";
    auto chunk = [](const std::string& s) {
      char size[16];
      std::snprintf(size, sizeof size, "%zx", s.size());
      return std::string(size) + "\r\n" + s + "\r\n";
    };
    p.write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
            chunk(l1 + l2.substr(0, 20)) + chunk(l2.substr(20)) + "0\r\n\r\n");
  });
  kd::client c({.host = d.host()});
  std::vector<std::string> statuses;
  try {
    c.pull_image("python:3-slim", [&](const nlohmann::json& j) { statuses.push_back(j.value("status", "")); });
    FAIL("a failed pull accepted");
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::docker_api);
    CHECK(std::string(e.what()).find("toomanyrequests: rate limit") != std::string::npos);
  }
  REQUIRE(statuses.size() == 2);
  CHECK(statuses[0] == "Pulling from library/python");
}

TEST_CASE("a pull the daemon refuses up front keeps the daemon's reason") {
  // What a daemon without a reachable registry answers: a small error body with a Content-Length.
  fake_daemon d;
  d.then(version_then({}));
  d.then([](peer& p) {
    (void)p.read_request();
    p.write(http_response(500, R"({"message":"Get \"https://registry.example/v2/\": no such host"})"));
  });
  kd::client c({.host = d.host()});
  try {
    c.pull_image("python:3-slim", {});
    FAIL("a refused pull accepted");
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::docker_api);
    CHECK(e.http_status() == 500);
    CHECK(std::string(e.what()).find("no such host") != std::string::npos);
  }
}
