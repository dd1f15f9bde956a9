#ifndef KERNELGATE_WIRE_WS_CODEC_HPP
#define KERNELGATE_WIRE_WS_CODEC_HPP

#include "kernelgate/wire/message.hpp"

#include <string>
#include <string_view>

namespace kernelgate {

// Jupyter messages in WebSocket frames, as a kernel gateway or jupyter_server carries them over
// /api/kernels/<id>/channels. Pure functions (no sockets); nothing is signed (the server signs).
//
// v1 (subprotocol "v1.kernel.websocket.jupyter.org"), always a binary frame:
//   u64 n, then n u64 offsets (all little-endian), then the channel name, header, parent_header,
//   metadata, content and buffers; part i spans [offset[i], offset[i+1]), the first part being the
//   channel name, so n = 2 + 4 + number of buffers and the last offset is the frame's length.
// legacy (no subprotocol): a text frame holding one JSON object with header, parent_header, metadata,
//   content and channel; or, when there are buffers, a binary frame: u32 count, count u32 offsets
//   (big-endian), the JSON object, then the buffers (the last runs to the end of the frame).

/// The subprotocol name a client offers for the v1 binary framing.
inline constexpr std::string_view ws_v1_subprotocol = "v1.kernel.websocket.jupyter.org";

/// Which framing a WebSocket connection uses (v1 when the server accepted ws_v1_subprotocol).
enum class ws_protocol { v1, legacy };

/// Whether a WebSocket frame is text or binary.
enum class ws_frame_kind { text, binary };

/// One WebSocket frame's kind and payload.
struct ws_frame {
  ws_frame_kind kind = ws_frame_kind::binary;
  std::string payload;
};

/// `m` (sent on `m.chan`) as one frame of `protocol`: v1 binary; legacy text, or legacy binary when
/// `m` has buffers. JSON as in encode_zmq: compact, sorted keys, UTF-8 unescaped, `policy` for invalid UTF-8.
/// @throws kernelgate::error errc::invalid_argument when `m.chan` is the heartbeat (not carried over
///         WebSockets), `m` is no message a peer could accept (as for encode_zmq), or a part cannot
///         be written under `policy`.
[[nodiscard]] ws_frame encode_ws(const message& m, ws_protocol protocol, invalid_utf8 policy = invalid_utf8::replace);

/// The message in one received frame of `protocol`, with `chan` set from the frame. Invalid UTF-8 in
/// its JSON follows `policy`.
/// @throws kernelgate::error errc::malformed_message saying what is wrong: a text frame under v1, bad
///         offsets or counts, invalid JSON, an unknown channel, parts that are not JSON objects, a header
///         without msg_id or msg_type.
[[nodiscard]] message decode_ws(ws_frame_kind kind, std::string_view payload, ws_protocol protocol,
                                invalid_utf8 policy = invalid_utf8::replace);

/// The v1 binary frame of `m` (see encode_ws).
[[nodiscard]] std::string encode_ws_v1(const message& m, invalid_utf8 policy = invalid_utf8::replace);
/// The message in a v1 binary frame (see decode_ws).
[[nodiscard]] message decode_ws_v1(std::string_view frame, invalid_utf8 policy = invalid_utf8::replace);

/// The legacy JSON text frame of `m`; its buffers, if any, are not carried (use the binary form).
[[nodiscard]] std::string encode_ws_legacy_text(const message& m, invalid_utf8 policy = invalid_utf8::replace);
/// The message in a legacy JSON text frame. A missing channel means shell, as jupyter_server reads it.
[[nodiscard]] message decode_ws_legacy_text(std::string_view frame, invalid_utf8 policy = invalid_utf8::replace);

/// The legacy binary frame of `m`, with its buffers.
[[nodiscard]] std::string encode_ws_legacy_binary(const message& m, invalid_utf8 policy = invalid_utf8::replace);
/// The message in a legacy binary frame.
[[nodiscard]] message decode_ws_legacy_binary(std::string_view frame, invalid_utf8 policy = invalid_utf8::replace);

}  // namespace kernelgate

#endif
