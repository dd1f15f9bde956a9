#include "docker/protocol.hpp"

#include "kernelgate/error.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>

namespace kernelgate::docker::detail {

namespace {
constexpr std::string_view unix_scheme = "unix://";
constexpr std::string_view default_host = "unix:///var/run/docker.sock";
constexpr std::size_t max_error_text = 4096;

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(first, last - first + 1));
}

bool older(std::pair<int, int> a, std::pair<int, int> b) { return a < b; }
}  // namespace

std::string socket_path_from_host(std::string_view docker_host) {
  if (!docker_host.starts_with(unix_scheme)) {
    throw error(errc::invalid_argument,
                "DOCKER_HOST=" + std::string(docker_host) +
                    " is not supported: kernelgate talks to the Docker daemon over its Unix socket only; "
                    "use unix:///path/to/docker.sock");
  }
  auto path = docker_host.substr(unix_scheme.size());
  if (path.empty() || path.front() != '/') {
    throw error(errc::invalid_argument, "DOCKER_HOST=" + std::string(docker_host) +
                                            " has no absolute socket path; use unix:///path/to/docker.sock");
  }
  return std::string(path);
}

std::string resolve_host(std::string_view explicit_host) {
  if (!explicit_host.empty()) return std::string(explicit_host);
  if (const char* env = std::getenv("DOCKER_HOST"); env != nullptr && *env != '\0') return env;
  return std::string(default_host);
}

std::optional<std::pair<int, int>> parse_api_version(std::string_view v) {
  const auto dot = v.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == v.size()) return std::nullopt;
  int major = 0, minor = 0;
  const auto* b = v.data();
  auto r1 = std::from_chars(b, b + dot, major);
  auto r2 = std::from_chars(b + dot + 1, b + v.size(), minor);
  if (r1.ec != std::errc{} || r1.ptr != b + dot || r2.ec != std::errc{} || r2.ptr != b + v.size()) return std::nullopt;
  return std::pair{major, minor};
}

std::string negotiate_api_version(const nlohmann::json& body) {
  const auto server = body.is_object() ? body.value("ApiVersion", std::string{}) : std::string{};
  const auto server_v = parse_api_version(server);
  if (!server_v) {
    throw error(errc::docker_api, "the Docker daemon's GET /version answer has no usable ApiVersion (got '" + server +
                                      "'); is the socket really a Docker Engine?");
  }
  const auto client_max = *parse_api_version(client_max_api);
  auto chosen = older(*server_v, client_max) ? *server_v : client_max;
  std::string chosen_text = older(*server_v, client_max) ? server : std::string(client_max_api);
  const auto min_text = body.value("MinAPIVersion", std::string{});
  if (const auto min_v = parse_api_version(min_text); min_v && older(chosen, *min_v)) {
    chosen = *min_v;
    chosen_text = min_text;
  }
  if (older(chosen, *parse_api_version(client_min_api))) {
    throw error(errc::docker_api, "the Docker daemon speaks API " + server + ", older than the " +
                                      std::string(client_min_api) +
                                      " kernelgate needs; upgrade Docker Engine (20.10 or newer)");
  }
  return chosen_text;
}

void frame_demuxer::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    if (remaining_ == 0) {
      const auto take = std::min(bytes.size(), sizeof header_ - header_len_);
      std::copy_n(bytes.data(), take, header_ + header_len_);
      header_len_ += take;
      bytes.remove_prefix(take);
      if (header_len_ < sizeof header_) return;
      header_len_ = 0;
      if (header_[0] > 3 || header_[1] != 0 || header_[2] != 0 || header_[3] != 0) {
        throw error(errc::protocol_error,
                    "malformed Docker exec stream: frame header with stream type " + std::to_string(header_[0]) +
                        " and non-zero padding; the exec must run with Tty=false");
      }
      current_ = static_cast<stream_id>(header_[0]);
      remaining_ = (std::uint32_t{header_[4]} << 24) | (std::uint32_t{header_[5]} << 16) |
                   (std::uint32_t{header_[6]} << 8) | std::uint32_t{header_[7]};
      continue;
    }
    const auto take = std::min<std::size_t>(bytes.size(), remaining_);
    remaining_ -= static_cast<std::uint32_t>(take);
    payload_bytes_ += take;
    on_data_(current_, bytes.substr(0, take));
    bytes.remove_prefix(take);
  }
}

std::string encode_frame(stream_id id, std::string_view payload) {
  const auto n = static_cast<std::uint32_t>(payload.size());
  std::string out{static_cast<char>(id), 0, 0, 0, static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                  static_cast<char>(n >> 8), static_cast<char>(n)};
  out.append(payload);
  return out;
}

std::string_view stream_name(stream_id id) noexcept {
  // stdin echoed back travels on stdout; the daemon's own errors are the stderr of the call.
  return id == stream_id::stderr_stream || id == stream_id::system_error ? "stderr" : "stdout";
}

std::string url_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (const unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 0xF]);
    }
  }
  return out;
}

std::string query_string(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    out += out.empty() ? '?' : '&';
    out += url_encode(k);
    out += '=';
    out += url_encode(v);
  }
  return out;
}

std::pair<std::string, std::string> split_image_reference(std::string_view ref) {
  if (ref.find('@') != std::string_view::npos) return {std::string(ref), {}};
  const auto slash = ref.rfind('/');
  const auto colon = ref.rfind(':');
  // A colon before the last slash belongs to a registry host:port, not to a tag.
  if (colon == std::string_view::npos || (slash != std::string_view::npos && colon < slash)) {
    return {std::string(ref), "latest"};
  }
  return {std::string(ref.substr(0, colon)), std::string(ref.substr(colon + 1))};
}

std::string label_filters(const std::map<std::string, std::string>& labels) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [k, v] : labels) list.push_back(v.empty() ? k : k + "=" + v);
  return nlohmann::json{{"label", list}}.dump();
}

std::string error_message_from_body(std::string_view content_type, std::string_view body) {
  std::string text;
  if (content_type.find("json") != std::string_view::npos) {
    const auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_object() && j.contains("message") && j["message"].is_string()) text = j["message"].get<std::string>();
  }
  if (text.empty()) text = trim(body);
  if (text.size() > max_error_text) text = text.substr(0, max_error_text) + "...";
  return text.empty() ? std::string("(empty body)") : text;
}

void json_line_splitter::feed(std::string_view bytes, const std::function<void(std::string_view)>& on_line) {
  while (!bytes.empty()) {
    const auto nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      pending_.append(bytes);
      return;
    }
    pending_.append(bytes.substr(0, nl));
    bytes.remove_prefix(nl + 1);
    const auto line = trim(pending_);
    pending_.clear();
    if (!line.empty()) on_line(line);
  }
}

}  // namespace kernelgate::docker::detail
