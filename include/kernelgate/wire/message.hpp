#ifndef KERNELGATE_WIRE_MESSAGE_HPP
#define KERNELGATE_WIRE_MESSAGE_HPP

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kernelgate {

/// The protocol version kernelgate stamps on the messages it sends.
inline constexpr std::string_view protocol_version = "5.3";

/// What the codecs do with text that is not valid UTF-8 (JSON text must be).
enum class invalid_utf8 {
  /// Writing: each invalid sequence becomes U+FFFD. Reading: each maximal ill-formed subsequence
  /// becomes U+FFFD, as jupyter_client reads it (kernels do send such bytes, e.g. in stream output).
  /// The default: no message is lost.
  replace,
  /// Writing: errc::invalid_argument. Reading: errc::malformed_message. Both name the part and offset.
  reject,
};

/// A Jupyter channel. `input` is the protocol's "stdin" channel (stdin is a C macro).
enum class channel { shell, control, iopub, input, heartbeat };

/// The protocol's name of a channel: "shell", "control", "iopub", "stdin", "hb".
[[nodiscard]] std::string_view to_string(channel c) noexcept;
/// The channel named by the protocol's string, or nullopt for an unknown name.
[[nodiscard]] std::optional<channel> channel_from_string(std::string_view name) noexcept;

/// One Jupyter message. The four dictionaries are kept as JSON so that fields kernelgate does not
/// know about survive a round trip unchanged. Buffers are raw bytes.
struct message {
  nlohmann::json header = nlohmann::json::object();
  nlohmann::json parent_header = nlohmann::json::object();
  nlohmann::json metadata = nlohmann::json::object();
  nlohmann::json content = nlohmann::json::object();
  std::vector<std::string> buffers;
  channel chan = channel::shell;

  /// header.msg_type, or "" when absent.
  [[nodiscard]] std::string msg_type() const;
  /// header.msg_id, or "" when absent.
  [[nodiscard]] std::string msg_id() const;
  /// parent_header.msg_id, or "" when there is no parent.
  [[nodiscard]] std::string parent_msg_id() const;
};

/// Identity used in the headers of messages a client sends.
struct session_identity {
  std::string session = new_session_id();
  std::string username = "kernelgate";

  /// 32 random hex digits with a dash after the eighth, as jupyter_client writes session ids.
  [[nodiscard]] static std::string new_session_id();
};

/// A fresh header: unique msg_id, the session's identity, `date` now, protocol_version.
/// Thread-safe.
[[nodiscard]] nlohmann::json make_header(std::string_view msg_type, const session_identity& who);

/// A request (or reply) message with a fresh header; `parent` may be null for none.
[[nodiscard]] message make_message(std::string_view msg_type, nlohmann::json content,
                                   const session_identity& who, channel chan,
                                   const message* parent = nullptr);

/// Now, as ISO 8601 UTC with microseconds and a `Z`, e.g. 2026-11-28T16:14:26.123456Z.
[[nodiscard]] std::string iso8601_now();

/// A random identifier (32 lowercase hex digits) from a cryptographic source.
[[nodiscard]] std::string random_hex_id();

}  // namespace kernelgate

#endif
