#ifndef KERNELGATE_WIRE_ZMQ_CODEC_HPP
#define KERNELGATE_WIRE_ZMQ_CODEC_HPP

#include "kernelgate/wire/message.hpp"
#include "kernelgate/wire/signer.hpp"

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kernelgate {

// The ZeroMQ multipart form of a Jupyter message, as jupyter_client's Session writes it:
//
//   identities..., "<IDS|MSG>", signature, header, parent_header, metadata, content, buffers...
//
// The signature is the HMAC of the four JSON frames exactly as sent. These functions are pure (no
// sockets): the ZeroMQ transport moves the frames.

/// The frame that separates routing identities from the message.
inline constexpr std::string_view zmq_delimiter = "<IDS|MSG>";

/// A message read from ZeroMQ frames, with the routing identities that came before the delimiter
/// (on IOPub, the topic frame).
struct zmq_decoded {
  std::vector<std::string> identities;
  message msg;
};

/// The signed frames of `m`. JSON is compact with sorted keys and UTF-8 left unescaped; invalid
/// UTF-8 follows `policy`; non-finite numbers (NaN, infinities), which JSON cannot hold, are written
/// as null. `m.chan` is not sent (the socket is the channel).
/// @throws kernelgate::error errc::invalid_argument when `m` is no message a peer could accept (a
///         part that is not a JSON object, a header without string msg_id and msg_type), or a part
///         cannot be written under `policy`.
/// Thread-safe (signing from several threads at once is safe).
[[nodiscard]] std::vector<std::string> encode_zmq(const message& m, const signer& sign,
                                                  std::span<const std::string> identities = {},
                                                  invalid_utf8 policy = invalid_utf8::replace);
/// As above, moving the buffers out of `m` instead of copying them.
[[nodiscard]] std::vector<std::string> encode_zmq(message&& m, const signer& sign,
                                                  std::span<const std::string> identities = {},
                                                  invalid_utf8 policy = invalid_utf8::replace);

/// Reads a message from `frames` (views, so a transport can pass ZeroMQ's own memory).
///
/// In order, before any JSON is parsed: the delimiter must be present and followed by at least five
/// frames; with a key set, the signature must be present (unsigned_message) and match the four JSON
/// frames as received (signature_mismatch, length checked first, compared in constant time); then,
/// when `replay` is given, it must not have been seen before (replayed_message; it is recorded only
/// once verified, so forged messages cannot fill the history). Then the four frames are parsed and
/// must be JSON objects, the header with string msg_id and msg_type (malformed_message).
/// With an empty key nothing is verified and any signature is accepted. Invalid UTF-8 in the JSON
/// frames (checked after the signature) follows `policy`: by default it is read as jupyter_client
/// reads it, each ill-formed sequence becoming U+FFFD.
/// `chan` is recorded in the message: the socket it came from.
/// Thread-safe: several threads may decode at once, sharing a signer and a replay_guard.
/// @throws kernelgate::error with errc::malformed_message, unsigned_message, signature_mismatch or
///         replayed_message, saying what was wrong; never with the key or signature in the text.
[[nodiscard]] zmq_decoded decode_zmq(std::span<const std::string_view> frames, const signer& verify,
                                     channel chan, replay_guard* replay = nullptr,
                                     invalid_utf8 policy = invalid_utf8::replace);
/// As above, for frames held in strings.
[[nodiscard]] zmq_decoded decode_zmq(std::span<const std::string> frames, const signer& verify, channel chan,
                                     replay_guard* replay = nullptr, invalid_utf8 policy = invalid_utf8::replace);

}  // namespace kernelgate

#endif
