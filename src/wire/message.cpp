#include "kernelgate/wire/message.hpp"

#include <openssl/rand.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <stdexcept>

namespace kernelgate {

std::string_view to_string(channel c) noexcept {
  switch (c) {
    case channel::shell: return "shell";
    case channel::control: return "control";
    case channel::iopub: return "iopub";
    case channel::input: return "stdin";
    case channel::heartbeat: return "hb";
  }
  return "shell";
}

std::optional<channel> channel_from_string(std::string_view name) noexcept {
  if (name == "shell") return channel::shell;
  if (name == "control") return channel::control;
  if (name == "iopub") return channel::iopub;
  if (name == "stdin") return channel::input;
  if (name == "hb") return channel::heartbeat;
  return std::nullopt;
}

namespace {

std::string string_field(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return {};
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::string message::msg_type() const { return string_field(header, "msg_type"); }
std::string message::msg_id() const { return string_field(header, "msg_id"); }
std::string message::parent_msg_id() const { return string_field(parent_header, "msg_id"); }

std::string random_hex_id() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("the system random source failed");
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(32, '0');
  for (std::size_t i = 0; i < sizeof bytes; ++i) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 0xf];
  }
  return out;
}

std::string session_identity::new_session_id() {
  std::string id = random_hex_id();
  id.insert(8, 1, '-');
  return id;
}

std::string iso8601_now() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto secs = time_point_cast<seconds>(now);
  const auto micros = duration_cast<microseconds>(now - secs).count();
  const std::time_t t = system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(micros));
  return buf;
}

nlohmann::json make_header(std::string_view msg_type, const session_identity& who) {
  // msg_id: session, then a per-process counter, as jupyter_client forms them: unique and cheap.
  static std::atomic<unsigned long long> counter{0};
  return {
      {"msg_id", who.session + "_" + std::to_string(counter.fetch_add(1, std::memory_order_relaxed))},
      {"session", who.session},
      {"username", who.username},
      {"date", iso8601_now()},
      {"msg_type", std::string(msg_type)},
      {"version", std::string(protocol_version)},
  };
}

message make_message(std::string_view msg_type, nlohmann::json content, const session_identity& who,
                     channel chan, const message* parent) {
  message m;
  m.header = make_header(msg_type, who);
  if (parent) m.parent_header = parent->header;
  m.content = content.is_null() ? nlohmann::json::object() : std::move(content);
  m.chan = chan;
  return m;
}

}  // namespace kernelgate
