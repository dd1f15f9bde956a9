#ifndef KERNELGATE_SRC_WIRE_JSON_TEXT_HPP
#define KERNELGATE_SRC_WIRE_JSON_TEXT_HPP

// JSON text as the wire codecs write and read it: one policy for every frame, whichever transport.

#include "kernelgate/wire/message.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace kernelgate::detail {

/// Nesting deeper than this is refused on reading: writing such a value back would recurse that deep.
inline constexpr std::size_t max_json_depth = 1000;

/// Appends `value` to `out` as compact JSON (no spaces, as jupyter_client with orjson writes it),
/// non-ASCII characters written as UTF-8, keys sorted. `what` names the part ("content") for errors.
/// @throws kernelgate::error errc::invalid_argument for invalid UTF-8 under invalid_utf8::reject.
void append_json(const nlohmann::json& value, invalid_utf8 policy, std::string_view what, std::string& out);

/// append_json into a new string.
[[nodiscard]] std::string dump_json(const nlohmann::json& value, invalid_utf8 policy, std::string_view what);

/// Parses one JSON text; `what` names it in errors ("the header frame"). Ill-formed UTF-8 is either
/// replaced by U+FFFD first, one per maximal ill-formed subsequence exactly as jupyter_client's
/// json_unpacker (Python's decode("utf-8", "replace")) does, or refused, as `policy` says.
/// @throws kernelgate::error errc::malformed_message when it is not valid JSON (including NaN literals
///         and nesting deeper than max_json_depth), or not UTF-8 under invalid_utf8::reject.
[[nodiscard]] nlohmann::json parse_json(std::string_view text, std::string_view what, invalid_utf8 policy);

/// What makes these four parts no Jupyter message ("" when nothing): each must be a JSON object, and
/// the header must have string msg_id and msg_type. Both directions check the same shape.
[[nodiscard]] std::string shape_problem(const nlohmann::json& header, const nlohmann::json& parent_header,
                                        const nlohmann::json& metadata, const nlohmann::json& content);

/// Refuses to encode a message a peer would have to drop (see shape_problem).
/// @throws kernelgate::error errc::invalid_argument.
void check_sendable(const message& m);

/// Builds a message from its four parsed dictionaries, checking what every message must have:
/// four JSON objects, and a header with string msg_id and msg_type.
/// @throws kernelgate::error errc::malformed_message naming the part that is wrong.
[[nodiscard]] message make_checked_message(nlohmann::json header, nlohmann::json parent_header,
                                           nlohmann::json metadata, nlohmann::json content, channel chan);

/// Parses the four JSON texts of a message in order (so the first bad one is named: "the header
/// <kind>", e.g. kind = "frame") and builds it with make_checked_message.
/// @throws kernelgate::error errc::malformed_message.
[[nodiscard]] message parse_checked_message(std::string_view header, std::string_view parent_header,
                                            std::string_view metadata, std::string_view content,
                                            std::string_view kind, channel chan, invalid_utf8 policy);

}  // namespace kernelgate::detail

#endif
