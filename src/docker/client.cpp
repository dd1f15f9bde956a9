#include "kernelgate/docker/client.hpp"

#include "detail/process.hpp"
#include "docker/protocol.hpp"
#include "kernelgate/error.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <limits>
#include <cerrno>
#include <cstring>
#include <mutex>

namespace kernelgate::docker {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using steady = std::chrono::steady_clock;
using kernelgate::detail::unique_fd;

namespace {

constexpr std::uint64_t max_reply_body = 64ull << 20;
constexpr std::string_view user_agent = "kernelgate/0.1";

// A connected Unix stream socket with deadlines. Beast's synchronous algorithms run over it; every
// wait is a poll() bounded by the deadline and woken early by an optional cancel descriptor, so no
// call can block past its deadline and none spins.
class deadline_socket {
 public:
  explicit deadline_socket(unique_fd fd) : fd_(std::move(fd)) {}

  void expires_at(steady::time_point deadline) noexcept { deadline_ = deadline; }
  void set_cancel_fd(int fd) noexcept { cancel_fd_ = fd; }

  template <class MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers, beast::error_code& ec) {
    return transfer<net::mutable_buffer>(buffers, POLLIN, ec, [this](const net::mutable_buffer& b) {
      return ::recv(fd_.get(), b.data(), b.size(), 0);
    });
  }
  template <class MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers) {
    return or_throw([&](beast::error_code& ec) { return read_some(buffers, ec); });
  }

  template <class ConstBuffers>
  std::size_t write_some(const ConstBuffers& buffers, beast::error_code& ec) {
    return transfer<net::const_buffer>(buffers, POLLOUT, ec, [this](const net::const_buffer& b) {
      return ::send(fd_.get(), b.data(), b.size(), MSG_NOSIGNAL);
    });
  }
  template <class ConstBuffers>
  std::size_t write_some(const ConstBuffers& buffers) {
    return or_throw([&](beast::error_code& ec) { return write_some(buffers, ec); });
  }

 private:
  // One recv/send on the first non-empty buffer, waiting (bounded) while the socket is not ready.
  // `op` returns what recv/send return; 0 (for a non-empty buffer) is the peer's orderly close.
  template <class Buffer, class Buffers, class Op>
  std::size_t transfer(const Buffers& buffers, short events, beast::error_code& ec, Op op) {
    ec = {};
    for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers); ++it) {
      const Buffer b(*it);
      if (b.size() == 0) continue;
      for (;;) {
        const auto n = op(b);
        if (n > 0) return static_cast<std::size_t>(n);
        if (n == 0) {
          ec = net::error::eof;
          return 0;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          ec.assign(errno, boost::system::system_category());
          return 0;
        }
        if (!wait(events, ec)) return 0;
      }
    }
    return 0;
  }

  template <class F>
  static std::size_t or_throw(F f) {
    beast::error_code ec;
    const auto n = f(ec);
    if (ec) throw beast::system_error(ec);
    return n;
  }

  bool wait(short events, beast::error_code& ec) {
    for (;;) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline_ - steady::now()).count();
      if (left <= 0) {
        ec = beast::error::timeout;
        return false;
      }
      pollfd fds[2] = {{fd_.get(), events, 0}, {cancel_fd_, POLLIN, 0}};
      const int r = ::poll(fds, cancel_fd_ >= 0 ? 2 : 1, static_cast<int>(std::min<long long>(left, 1 << 30)));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        ec.assign(errno, boost::system::system_category());
        return false;
      }
      if (r == 0) continue;  // the loop re-checks the deadline
      if (cancel_fd_ >= 0 && (fds[1].revents & POLLIN) != 0) {
        ec = net::error::operation_aborted;
        return false;
      }
      return true;  // readable/writable, or an error/hang-up the next recv/send reports
    }
  }

  unique_fd fd_;
  steady::time_point deadline_ = steady::time_point::max();
  int cancel_fd_ = -1;
};

std::string unavailable_hint(int err) {
  switch (err) {
    case ENOENT:
      return "no socket there. Is dockerd running? Start it (systemctl start docker, or here "
             "scripts/start-services) or point DOCKER_HOST at its socket (unix:///path/to/docker.sock)";
    case ECONNREFUSED:
      return "the socket exists but nothing accepts connections (a stale socket of a stopped daemon?). Start "
             "dockerd or point DOCKER_HOST at a running daemon's socket";
    case EACCES:
    case EPERM:
      return "permission denied. Run as root or as a member of the socket's group (usually `docker`)";
    default:
      return "is the Docker daemon running and DOCKER_HOST right?";
  }
}

unique_fd connect_unix(const std::string& host, const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    throw error(errc::invalid_argument, "Docker socket path " + path + " is longer than a Unix socket path may be");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) throw error(errc::docker_unavailable, std::string("cannot create a Unix socket: ") + std::strerror(errno));
  int r;
  do {
    r = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    const int err = errno;
    if (err == EAGAIN) {
      throw error(errc::docker_unavailable, "the Docker daemon at " + host +
                                                " is not accepting connections (its backlog is full); try again");
    }
    throw error(errc::docker_unavailable, "cannot connect to the Docker daemon at " + host + ": " +
                                              std::strerror(err) + ": " + unavailable_hint(err));
  }
  return fd;
}

http::verb verb_of(std::string_view method) {
  const auto v = http::string_to_verb(method);
  if (v == http::verb::unknown) throw error(errc::invalid_argument, "unknown HTTP method " + std::string(method));
  return v;
}

// Keeps '/', ':' and '@' of image references readable; the daemon's router takes the rest as is.
std::string path_segment(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (c == '/' || c == ':' || c == '@') {
      out.push_back(c);
    } else {
      out += detail::url_encode(std::string_view(&c, 1));
    }
  }
  return out;
}

nlohmann::json parse_json(const client::reply& r, std::string_view what) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded()) {
    throw error(errc::protocol_error, "the Docker daemon answered " + std::string(what) +
                                          " with a body that is not JSON: " +
                                          detail::error_message_from_body({}, r.body));
  }
  return j;
}

[[noreturn]] void throw_api(const client::reply& r, std::string_view what) {
  throw error(errc::docker_api, r.status,
              "the Docker daemon refused " + std::string(what) + " (HTTP " + std::to_string(r.status) +
                  "): " + detail::error_message_from_body(r.content_type, r.body));
}

void expect(const client::reply& r, std::initializer_list<int> ok, std::string_view what) {
  for (const int s : ok) {
    if (r.status == s) return;
  }
  throw_api(r, what);
}

template <class Request>
void set_common_headers(Request& req, const std::optional<std::string>& body) {
  req.set(http::field::host, "docker");
  req.set(http::field::user_agent, user_agent);
  if (body) {
    req.set(http::field::content_type, "application/json");
    req.body() = *body;
  }
  req.prepare_payload();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// exec_stream

struct exec_stream::impl {
  impl(deadline_socket s, std::string early)
      : socket(std::move(s)), leftover(std::move(early)), demux([this](detail::stream_id id, std::string_view data) {
          if (sink != nullptr && *sink) (*sink)(detail::stream_name(id), data);
        }) {}

  deadline_socket socket;
  std::string leftover;  // bytes read together with the HTTP header
  detail::frame_demuxer demux;
  const stream_data_handler* sink = nullptr;
  bool ended = false;
  std::vector<char> buffer = std::vector<char>(64 * 1024);
};

exec_stream::exec_stream(std::unique_ptr<impl> p) noexcept : impl_(std::move(p)) {}
exec_stream::exec_stream(exec_stream&&) noexcept = default;
exec_stream& exec_stream::operator=(exec_stream&&) noexcept = default;
exec_stream::~exec_stream() = default;

void exec_stream::write(std::string_view data, steady::time_point deadline) {
  auto& s = *impl_;
  s.socket.expires_at(deadline);
  beast::error_code ec;
  net::write(s.socket, net::buffer(data.data(), data.size()), ec);
  if (ec == beast::error::timeout) throw error(errc::timeout, "writing to a Docker exec's stdin timed out");
  if (ec) throw error(errc::connection_failed, "writing to a Docker exec's stdin failed: " + ec.message());
}

stream_end exec_stream::pump(const stream_data_handler& on_data, steady::time_point deadline, std::stop_token stop,
                             const std::function<bool()>& until) {
  auto& s = *impl_;
  if (s.ended) return stream_end::eof;
  s.sink = &on_data;
  struct reset_sink {
    impl& s;
    ~reset_sink() { s.sink = nullptr; }
  } guard{s};
  if (!s.leftover.empty()) {
    const auto early = std::move(s.leftover);
    s.leftover.clear();
    s.demux.feed(early);
  }
  if (until && until()) return stream_end::satisfied;
  unique_fd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) throw error(errc::io_error, std::string("eventfd failed: ") + std::strerror(errno));
  const std::stop_callback on_stop(stop, [fd = wake.get()] {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(fd, &one, sizeof one);
  });
  s.socket.expires_at(deadline);
  s.socket.set_cancel_fd(wake.get());
  struct clear_cancel {
    deadline_socket& sock;
    ~clear_cancel() { sock.set_cancel_fd(-1); }
  } clear{s.socket};
  for (;;) {
    if (stop.stop_requested()) return stream_end::cancelled;
    beast::error_code ec;
    const auto n = s.socket.read_some(net::buffer(s.buffer), ec);
    if (n > 0) {
      s.demux.feed(std::string_view(s.buffer.data(), n));
      if (until && until()) return stream_end::satisfied;
    }
    if (!ec) continue;
    if (ec == net::error::eof || ec == net::error::connection_reset) {
      s.ended = true;
      if (s.demux.mid_frame()) {
        throw error(errc::connection_failed, "the Docker exec stream ended in the middle of a frame");
      }
      return stream_end::eof;
    }
    if (ec == beast::error::timeout) return stream_end::deadline;
    if (ec == net::error::operation_aborted) return stream_end::cancelled;
    throw error(errc::connection_failed, "reading a Docker exec stream failed: " + ec.message());
  }
}

// ---------------------------------------------------------------------------------------------
// client

struct client::impl {
  client_options options;
  std::string host;
  std::string socket_path;
  std::string api_version;
  nlohmann::json version;

  std::mutex mutex;  // guards the keep-alive connection
  std::optional<deadline_socket> connection;
  beast::flat_buffer buffer;

  [[nodiscard]] deadline_socket open() const { return deadline_socket(connect_unix(host, socket_path)); }

  [[nodiscard]] std::string versioned(const std::string& path) const {
    return api_version.empty() ? path : "/v" + api_version + path;
  }

  [[noreturn]] void fail(const beast::error_code& ec, std::string_view method, const std::string& target,
                         std::chrono::milliseconds budget) const {
    const auto what = std::string(method) + " " + target;
    if (ec == beast::error::timeout) {
      throw error(errc::timeout, "the Docker daemon at " + host + " did not answer " + what + " within " +
                                     std::to_string(budget.count()) + " ms");
    }
    const bool cut_short = ec == http::error::end_of_stream || ec == http::error::partial_message;
    if (!cut_short && ec.category() == beast::error_code(http::error::bad_version).category()) {
      throw error(errc::protocol_error,
                  "the Docker daemon at " + host + " answered " + what + " with invalid HTTP: " + ec.message());
    }
    throw error(errc::connection_failed,
                "the connection to the Docker daemon at " + host + " broke during " + what + ": " + ec.message());
  }

  // One request/response on the keep-alive connection. A connection the daemon closed while it
  // sat idle fails before any answer arrives; then the request is sent once more on a new one.
  reply call(std::string_view method, const std::string& target, const std::optional<std::string>& body,
             std::chrono::milliseconds budget) {
    const std::lock_guard lock(mutex);
    const auto deadline = steady::now() + budget;
    for (int attempt = 0;; ++attempt) {
      const bool reused = connection.has_value();
      if (!reused) {
        connection.emplace(open());
        buffer.clear();
      }
      auto& sock = *connection;
      sock.expires_at(deadline);
      http::request<http::string_body> req{verb_of(method), target, 11};
      set_common_headers(req, body);
      beast::error_code ec;
      http::write(sock, req, ec);
      http::response_parser<http::string_body> parser;
      parser.body_limit(max_reply_body);
      if (!ec) http::read(sock, buffer, parser, ec);
      if (ec) {
        connection.reset();
        buffer.clear();
        const bool stale = ec == net::error::eof || ec == net::error::connection_reset ||
                           ec == net::error::broken_pipe || ec == http::error::end_of_stream;
        if (reused && stale && attempt == 0) continue;
        fail(ec, method, target, budget);
      }
      auto res = parser.release();
      if (!res.keep_alive()) connection.reset();
      return {static_cast<int>(res.result_int()), std::string(res[http::field::content_type]), std::move(res.body())};
    }
  }

  reply api(std::string_view method, const std::string& path, const std::optional<nlohmann::json>& body = {}) {
    return call(method, versioned(path), body ? std::optional<std::string>(body->dump()) : std::nullopt,
                options.timeout);
  }
};

client::client(client_options options) : impl_(std::make_unique<impl>()) {
  impl_->options = std::move(options);
  impl_->host = detail::resolve_host(impl_->options.host);
  impl_->socket_path = detail::socket_path_from_host(impl_->host);
  const auto r = impl_->call("GET", "/version", std::nullopt, impl_->options.timeout);
  expect(r, {200}, "GET /version");
  impl_->version = parse_json(r, "GET /version");
  impl_->api_version = detail::negotiate_api_version(impl_->version);
}

client::client(client&&) noexcept = default;
client& client::operator=(client&&) noexcept = default;
client::~client() = default;

const std::string& client::host() const noexcept { return impl_->host; }
const std::string& client::api_version() const noexcept { return impl_->api_version; }
const nlohmann::json& client::version() const noexcept { return impl_->version; }

client::reply client::request(std::string_view method, const std::string& path_and_query,
                              const std::optional<nlohmann::json>& body) {
  const bool clean = std::none_of(path_and_query.begin(), path_and_query.end(), [](char c) {
    return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
  });
  if (path_and_query.empty() || path_and_query.front() != '/' || !clean) {
    throw error(errc::invalid_argument, "Docker API path '" + path_and_query +
                                            "' must start with '/' and hold no blanks or control characters "
                                            "(percent-encode them)");
  }
  return impl_->api(method, path_and_query, body);
}

std::optional<nlohmann::json> client::inspect_image(const std::string& name) {
  const auto r = impl_->api("GET", "/images/" + path_segment(name) + "/json");
  if (r.status == 404) return std::nullopt;
  expect(r, {200}, "inspecting image " + name);
  return parse_json(r, "an image inspect");
}

void client::pull_image(const std::string& name, const pull_progress_handler& progress) {
  const auto [from, tag] = detail::split_image_reference(name);
  std::vector<std::pair<std::string, std::string>> params{{"fromImage", from}};
  if (!tag.empty()) params.emplace_back("tag", tag);
  const auto target = impl_->versioned("/images/create" + detail::query_string(params));
  const auto what = "pulling image " + name;

  // A pull streams progress for as long as the download runs: its own connection and deadline.
  auto sock = impl_->open();
  sock.expires_at(steady::now() + impl_->options.pull_timeout);
  http::request<http::string_body> req{http::verb::post, target, 11};
  set_common_headers(req, std::nullopt);
  beast::error_code ec;
  http::write(sock, req, ec);
  beast::flat_buffer buf;
  http::response_parser<http::buffer_body> parser;
  // Unlimited, spelled as the largest limit: Boost 1.74 compares a Content-Length against an empty
  // optional limit as if it were exceeded.
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  if (!ec) http::read_header(sock, buf, parser, ec);
  if (ec) impl_->fail(ec, "POST", target, impl_->options.pull_timeout);

  std::string body;  // kept only for an error status
  std::string in_band_error;
  detail::json_line_splitter lines;
  const auto on_line = [&](std::string_view line) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object()) return;
    if (j.contains("errorDetail") || j.contains("error")) {
      in_band_error = j.contains("errorDetail") ? j["errorDetail"].value("message", std::string{})
                                                 : j.value("error", std::string{});
      if (in_band_error.empty()) in_band_error = j.dump();
    }
    if (progress) progress(j);
  };
  const int status = static_cast<int>(parser.get().result_int());
  char chunk[8192];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    http::read(sock, buf, parser, ec);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) impl_->fail(ec, "POST", target, impl_->options.pull_timeout);
    const std::string_view got(chunk, sizeof chunk - parser.get().body().size);
    if (status != 200) {
      if (body.size() < 65536) body.append(got);
    } else {
      lines.feed(got, on_line);
    }
  }
  if (status != 200) throw_api({status, std::string(parser.get()[http::field::content_type]), body}, what);
  if (!lines.rest().empty()) on_line(lines.rest());
  if (!in_band_error.empty()) throw error(errc::docker_api, status, "pulling image " + name + " failed: " + in_band_error);
}

void client::ensure_image(const std::string& name, const pull_progress_handler& progress,
                          const std::string& build_hint) {
  if (inspect_image(name)) return;
  std::string why;
  try {
    pull_image(name, progress);
    if (inspect_image(name)) return;
    why = "the pull finished but the daemon still has no such image";
  } catch (const error& e) {
    if (e.condition() == errc::docker_unavailable) throw;
    why = e.what();
  }
  throw error(errc::docker_api, 404,
              "Docker image '" + name + "' is not present and could not be pulled (" + why + "). " +
                  (build_hint.empty() ? "Pull it where a registry is reachable (docker pull " + name +
                                            ") or build it locally, then try again"
                                      : build_hint));
}

std::string client::create_container(const nlohmann::json& config, const std::string& name) {
  const auto r = impl_->api("POST", "/containers/create" + (name.empty() ? std::string{} : detail::query_string({{"name", name}})),
                            config);
  expect(r, {201}, "creating a container from image " + config.value("Image", std::string("?")));
  const auto j = parse_json(r, "a container create");
  if (!j.is_object() || !j.contains("Id") || !j["Id"].is_string()) {
    throw error(errc::protocol_error, "the Docker daemon's container create answer has no Id: " + r.body);
  }
  return j["Id"].get<std::string>();
}

void client::start_container(const std::string& id) {
  const auto r = impl_->api("POST", "/containers/" + path_segment(id) + "/start");
  expect(r, {204, 304}, "starting container " + id);
}

std::optional<nlohmann::json> client::inspect_container(const std::string& id) {
  const auto r = impl_->api("GET", "/containers/" + path_segment(id) + "/json");
  if (r.status == 404) return std::nullopt;
  expect(r, {200}, "inspecting container " + id);
  return parse_json(r, "a container inspect");
}

void client::restart_container(const std::string& id, std::chrono::seconds grace) {
  const auto target = impl_->versioned("/containers/" + path_segment(id) + "/restart" +
                                       detail::query_string({{"t", std::to_string(grace.count())}}));
  const auto r = impl_->call("POST", target, std::nullopt, impl_->options.timeout + grace);
  expect(r, {204}, "restarting container " + id);
}

bool client::remove_container(const std::string& id) {
  const auto r = impl_->api("DELETE", "/containers/" + path_segment(id) + detail::query_string({{"force", "1"}, {"v", "1"}}));
  if (r.status == 204) return true;
  if (r.status == 404) return false;
  if (r.status == 409 && r.body.find("already in progress") != std::string::npos) return false;
  throw_api(r, "removing container " + id);
}

nlohmann::json client::list_containers(const std::map<std::string, std::string>& labels) {
  const auto r = impl_->api("GET", "/containers/json" + detail::query_string({{"all", "1"}, {"filters", detail::label_filters(labels)}}));
  expect(r, {200}, "listing containers");
  auto j = parse_json(r, "a container list");
  if (!j.is_array()) throw error(errc::protocol_error, "the Docker daemon's container list is not a JSON array");
  return j;
}

std::string client::create_exec(const std::string& container_id, const nlohmann::json& config) {
  const auto r = impl_->api("POST", "/containers/" + path_segment(container_id) + "/exec", config);
  expect(r, {201}, "creating an exec in container " + container_id);
  const auto j = parse_json(r, "an exec create");
  if (!j.is_object() || !j.contains("Id") || !j["Id"].is_string()) {
    throw error(errc::protocol_error, "the Docker daemon's exec create answer has no Id: " + r.body);
  }
  return j["Id"].get<std::string>();
}

exec_stream client::start_exec(const std::string& exec_id) {
  const auto target = impl_->versioned("/exec/" + path_segment(exec_id) + "/start");
  auto sock = impl_->open();
  sock.expires_at(steady::now() + impl_->options.timeout);
  http::request<http::string_body> req{http::verb::post, target, 11};
  req.set(http::field::connection, "Upgrade");
  req.set(http::field::upgrade, "tcp");
  set_common_headers(req, std::string(R"({"Detach":false,"Tty":false})"));
  beast::error_code ec;
  http::write(sock, req, ec);
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_reply_body);
  if (!ec) http::read_header(sock, buf, parser, ec);
  if (ec) impl_->fail(ec, "POST", target, impl_->options.timeout);
  const int status = static_cast<int>(parser.get().result_int());
  if (status != 101 && status != 200) {
    // An error found before the hijack is an ordinary response with a body.
    http::read(sock, buf, parser, ec);
    if (ec) impl_->fail(ec, "POST", target, impl_->options.timeout);
    throw_api({status, std::string(parser.get()[http::field::content_type]), parser.get().body()},
              "starting exec " + exec_id);
  }
  const auto early = beast::buffers_to_string(buf.data());
  return exec_stream(std::make_unique<exec_stream::impl>(std::move(sock), early));
}

nlohmann::json client::inspect_exec(const std::string& exec_id) {
  const auto r = impl_->api("GET", "/exec/" + path_segment(exec_id) + "/json");
  expect(r, {200}, "inspecting exec " + exec_id);
  auto j = parse_json(r, "an exec inspect");
  if (!j.is_object()) throw error(errc::protocol_error, "the Docker daemon's exec inspect is not a JSON object");
  return j;
}

}  // namespace kernelgate::docker
