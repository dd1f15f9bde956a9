#include "kernelgate/wire/ws_codec.hpp"

#include "kernelgate/error.hpp"
#include "wire/json_text.hpp"

#include <cstdint>
#include <vector>

namespace kernelgate {
namespace {

[[noreturn]] void malformed(std::string_view form, const std::string& what) {
  throw error(errc::malformed_message, "malformed " + std::string(form) + " WebSocket frame: " + what);
}

// The channel a WebSocket frame names; the heartbeat is not carried over WebSockets.
channel channel_named(std::string_view form, std::string_view name) {
  const auto chan = channel_from_string(name);
  if (!chan || *chan == channel::heartbeat) {
    malformed(form, "unknown channel \"" + std::string(name.substr(0, 64)) +
                        "\" (expected shell, control, iopub or stdin)");
  }
  return *chan;
}

// Checks that `m` can be sent at all, and returns the name of its channel.
std::string_view sendable_channel_name(const message& m) {
  detail::check_sendable(m);
  if (m.chan == channel::heartbeat) {
    throw error(errc::invalid_argument,
                "cannot send a message on the heartbeat channel over a WebSocket; use shell, control, iopub or stdin");
  }
  return to_string(m.chan);
}

void put_le64(std::string& out, std::size_t at, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
std::uint64_t get_le64(std::string_view in, std::size_t at) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(in[at + i]);
  return v;
}
void put_be32(std::string& out, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out[at + i] = static_cast<char>((v >> (8 * (3 - i))) & 0xff);
}
std::uint32_t get_be32(std::string_view in, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(in[at + i]);
  return v;
}

// Offsets must start after the table, never go backwards, and stay inside the frame.
void check_offsets(std::string_view form, const std::vector<std::uint64_t>& offsets, std::uint64_t table_end,
                   std::uint64_t size) {
  if (offsets.front() < table_end) {
    malformed(form, "the first offset (" + std::to_string(offsets.front()) + ") points into the offset table, which ends at byte " +
                        std::to_string(table_end));
  }
  for (std::size_t i = 0; i < offsets.size(); ++i) {
    if (offsets[i] > size) {
      malformed(form, "offset " + std::to_string(i) + " (" + std::to_string(offsets[i]) + ") is past the end of the " +
                          std::to_string(size) + "-byte frame");
    }
    if (i > 0 && offsets[i] < offsets[i - 1]) {
      malformed(form, "offset " + std::to_string(i) + " (" + std::to_string(offsets[i]) + ") is before offset " +
                          std::to_string(i - 1) + " (" + std::to_string(offsets[i - 1]) + ")");
    }
  }
}

// The legacy JSON object, written member by member in sorted key order so that no part is copied.
void append_legacy_json(const message& m, invalid_utf8 policy, std::string& out) {
  out += R"({"channel":")";
  out += sendable_channel_name(m);
  out += R"(","content":)";
  detail::append_json(m.content, policy, "content", out);
  out += R"(,"header":)";
  detail::append_json(m.header, policy, "header", out);
  out += R"(,"metadata":)";
  detail::append_json(m.metadata, policy, "metadata", out);
  out += R"(,"parent_header":)";
  detail::append_json(m.parent_header, policy, "parent_header", out);
  out += '}';
}

message message_from_legacy_json(std::string_view form, std::string_view text, invalid_utf8 policy) {
  nlohmann::json j = detail::parse_json(text, "message JSON", policy);
  if (!j.is_object()) malformed(form, std::string("the message JSON must be an object, but it is a ") + j.type_name());
  channel chan = channel::shell;  // jupyter_server assumes shell when the channel is missing
  if (const auto it = j.find("channel"); it != j.end() && !it->is_null()) {
    if (!it->is_string()) malformed(form, "\"channel\" must be a string");
    chan = channel_named(form, it->get_ref<const std::string&>());
  }
  const auto take = [&](const char* key) {
    const auto it = j.find(key);
    if (it == j.end()) malformed(form, std::string("the message JSON has no \"") + key + "\"");
    return std::move(*it);
  };
  // One at a time, so that the first missing part is the one named.
  nlohmann::json header = take("header");
  nlohmann::json parent_header = take("parent_header");
  nlohmann::json metadata = take("metadata");
  nlohmann::json content = take("content");
  return detail::make_checked_message(std::move(header), std::move(parent_header), std::move(metadata),
                                      std::move(content), chan);
}

}  // namespace

std::string encode_ws_v1(const message& m, invalid_utf8 policy) {
  const std::string_view chan = sendable_channel_name(m);
  const std::size_t count = 2 + 4 + m.buffers.size();
  std::string out(8 * (count + 1), '\0');
  put_le64(out, 0, count);
  std::size_t index = 0;
  const auto mark = [&] { put_le64(out, 8 * (1 + index++), out.size()); };
  mark();
  out += chan;
  mark();
  detail::append_json(m.header, policy, "header", out);
  mark();
  detail::append_json(m.parent_header, policy, "parent_header", out);
  mark();
  detail::append_json(m.metadata, policy, "metadata", out);
  mark();
  detail::append_json(m.content, policy, "content", out);
  mark();
  for (const std::string& buffer : m.buffers) {
    out += buffer;
    mark();
  }
  return out;
}

message decode_ws_v1(std::string_view frame, invalid_utf8 policy) {
  constexpr std::string_view form = "v1";
  if (frame.size() < 8) malformed(form, "it has " + std::to_string(frame.size()) + " bytes, fewer than the 8 of the offset count");
  const std::uint64_t count = get_le64(frame, 0);
  if (count < 6) {
    malformed(form, "it declares " + std::to_string(count) +
                        " offsets; a message needs at least 6 (channel, header, parent_header, metadata, content)");
  }
  if (count > frame.size() / 8 - 1) {
    malformed(form, "it declares " + std::to_string(count) + " offsets, more than its " + std::to_string(frame.size()) +
                        " bytes can hold");
  }
  std::vector<std::uint64_t> offsets(count);
  for (std::size_t i = 0; i < count; ++i) offsets[i] = get_le64(frame, 8 * (i + 1));
  check_offsets(form, offsets, 8 * (count + 1), frame.size());
  if (offsets.back() != frame.size()) {
    malformed(form, "the last offset (" + std::to_string(offsets.back()) + ") is not the frame's length (" +
                        std::to_string(frame.size()) + ")");
  }
  const auto part = [&](std::size_t i) { return frame.substr(offsets[i], offsets[i + 1] - offsets[i]); };
  const channel chan = channel_named(form, part(0));
  message m = detail::parse_checked_message(part(1), part(2), part(3), part(4), "part", chan, policy);
  m.buffers.reserve(count - 6);
  for (std::size_t i = 5; i + 1 < count; ++i) m.buffers.emplace_back(part(i));
  return m;
}

std::string encode_ws_legacy_text(const message& m, invalid_utf8 policy) {
  std::string out;
  append_legacy_json(m, policy, out);
  return out;
}

message decode_ws_legacy_text(std::string_view frame, invalid_utf8 policy) {
  return message_from_legacy_json("legacy JSON", frame, policy);
}

std::string encode_ws_legacy_binary(const message& m, invalid_utf8 policy) {
  const std::size_t count = 1 + m.buffers.size();
  std::string out(4 * (count + 1), '\0');
  put_be32(out, 0, static_cast<std::uint32_t>(count));
  std::size_t index = 0;
  const auto mark = [&] {
    if (out.size() > UINT32_MAX) {
      throw error(errc::invalid_argument, "a message of more than 4 GiB cannot be sent in the legacy binary WebSocket "
                                          "framing (its offsets are 32-bit); use the v1 protocol");
    }
    put_be32(out, 4 * (1 + index++), static_cast<std::uint32_t>(out.size()));
  };
  mark();
  append_legacy_json(m, policy, out);
  for (std::size_t i = 0; i < m.buffers.size(); ++i) {
    mark();
    out += m.buffers[i];
  }
  return out;
}

message decode_ws_legacy_binary(std::string_view frame, invalid_utf8 policy) {
  constexpr std::string_view form = "legacy binary";
  if (frame.size() < 4) malformed(form, "it has " + std::to_string(frame.size()) + " bytes, fewer than the 4 of the part count");
  const std::uint32_t count = get_be32(frame, 0);
  if (count < 1) malformed(form, "it declares 0 parts; the first part must be the message JSON");
  if (count > frame.size() / 4 - 1) {
    malformed(form, "it declares " + std::to_string(count) + " parts, more offsets than its " +
                        std::to_string(frame.size()) + " bytes can hold");
  }
  std::vector<std::uint64_t> offsets(count);
  for (std::size_t i = 0; i < count; ++i) offsets[i] = get_be32(frame, 4 * (i + 1));
  check_offsets(form, offsets, 4 * (std::uint64_t{count} + 1), frame.size());
  offsets.push_back(frame.size());
  const auto part = [&](std::size_t i) { return frame.substr(offsets[i], offsets[i + 1] - offsets[i]); };
  message m = message_from_legacy_json(form, part(0), policy);
  m.buffers.reserve(count - 1);
  for (std::size_t i = 1; i < count; ++i) m.buffers.emplace_back(part(i));
  return m;
}

ws_frame encode_ws(const message& m, ws_protocol protocol, invalid_utf8 policy) {
  if (protocol == ws_protocol::v1) return {ws_frame_kind::binary, encode_ws_v1(m, policy)};
  if (m.buffers.empty()) return {ws_frame_kind::text, encode_ws_legacy_text(m, policy)};
  return {ws_frame_kind::binary, encode_ws_legacy_binary(m, policy)};
}

message decode_ws(ws_frame_kind kind, std::string_view payload, ws_protocol protocol, invalid_utf8 policy) {
  if (protocol == ws_protocol::v1) {
    if (kind == ws_frame_kind::text) {
      malformed("v1", "it is a text frame; the v1 protocol sends messages in binary frames only");
    }
    return decode_ws_v1(payload, policy);
  }
  return kind == ws_frame_kind::text ? decode_ws_legacy_text(payload, policy) : decode_ws_legacy_binary(payload, policy);
}

}  // namespace kernelgate
