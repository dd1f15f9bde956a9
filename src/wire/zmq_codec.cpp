#include "kernelgate/wire/zmq_codec.hpp"

#include "kernelgate/error.hpp"
#include "wire/json_text.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace kernelgate {
namespace {

// After the delimiter: signature, header, parent_header, metadata, content.
constexpr std::size_t minimum_parts = 5;

// Frames up to the buffers; the caller appends the buffers (copied or moved).
std::vector<std::string> encode_head(const message& m, const signer& sign, std::span<const std::string> identities,
                                     invalid_utf8 policy) {
  detail::check_sendable(m);
  std::vector<std::string> frames;
  frames.reserve(identities.size() + 1 + minimum_parts + m.buffers.size());
  frames.insert(frames.end(), identities.begin(), identities.end());
  frames.emplace_back(zmq_delimiter);
  frames.emplace_back();  // the signature, once the JSON frames exist
  const std::size_t signature_at = frames.size() - 1;
  frames.push_back(detail::dump_json(m.header, policy, "header"));
  frames.push_back(detail::dump_json(m.parent_header, policy, "parent_header"));
  frames.push_back(detail::dump_json(m.metadata, policy, "metadata"));
  frames.push_back(detail::dump_json(m.content, policy, "content"));
  const std::array<std::string_view, 4> signed_parts{frames[signature_at + 1], frames[signature_at + 2],
                                                    frames[signature_at + 3], frames[signature_at + 4]};
  sign.sign_into(signed_parts, frames[signature_at]);
  return frames;
}

[[noreturn]] void malformed(const std::string& what) {
  throw error(errc::malformed_message, "malformed ZeroMQ message: " + what);
}

}  // namespace

std::vector<std::string> encode_zmq(const message& m, const signer& sign, std::span<const std::string> identities,
                                    invalid_utf8 policy) {
  std::vector<std::string> frames = encode_head(m, sign, identities, policy);
  frames.insert(frames.end(), m.buffers.begin(), m.buffers.end());
  return frames;
}

std::vector<std::string> encode_zmq(message&& m, const signer& sign, std::span<const std::string> identities,
                                    invalid_utf8 policy) {
  std::vector<std::string> frames = encode_head(m, sign, identities, policy);
  std::move(m.buffers.begin(), m.buffers.end(), std::back_inserter(frames));
  m.buffers.clear();
  return frames;
}

zmq_decoded decode_zmq(std::span<const std::string_view> frames, const signer& verify, channel chan,
                       replay_guard* replay, invalid_utf8 policy) {
  const auto delimiter = std::find(frames.begin(), frames.end(), zmq_delimiter);
  if (delimiter == frames.end()) {
    malformed("none of its " + std::to_string(frames.size()) + " frames is the \"<IDS|MSG>\" delimiter");
  }
  const auto parts = std::span(delimiter + 1, frames.end());
  if (parts.size() < minimum_parts) {
    malformed("after the delimiter it has " + std::to_string(parts.size()) +
              " frames; a message needs at least 5 (signature, header, parent_header, metadata, content)");
  }
  const std::string_view signature = parts[0];
  const auto signed_parts = parts.subspan(1, 4);
  if (verify.enabled()) {
    if (signature.empty()) {
      throw error(errc::unsigned_message,
                  "a message arrived without a signature on the " + std::string(to_string(chan)) +
                      " channel, but this connection has a key; it was dropped (is the peer using the same "
                      "connection file?)");
    }
    if (!verify.verify(signature, signed_parts)) {
      throw error(errc::signature_mismatch,
                  "a message on the " + std::string(to_string(chan)) + " channel has a " + verify.scheme() +
                      " signature that does not match its contents; it was dropped (forged or corrupted, or "
                      "the peer uses another key or scheme)");
    }
    if (replay && !replay->check_and_record(signature)) {
      throw error(errc::replayed_message,
                  "a message on the " + std::string(to_string(chan)) +
                      " channel repeats the signature of one already received; it was dropped as a replay");
    }
  }

  zmq_decoded out;
  out.msg = detail::parse_checked_message(signed_parts[0], signed_parts[1], signed_parts[2], signed_parts[3], "frame",
                                          chan, policy);
  out.identities.assign(frames.begin(), delimiter);
  const auto buffers = parts.subspan(minimum_parts);
  out.msg.buffers.assign(buffers.begin(), buffers.end());
  return out;
}

zmq_decoded decode_zmq(std::span<const std::string> frames, const signer& verify, channel chan,
                       replay_guard* replay, invalid_utf8 policy) {
  std::vector<std::string_view> views(frames.begin(), frames.end());
  return decode_zmq(std::span<const std::string_view>(views), verify, chan, replay, policy);
}

}  // namespace kernelgate
