#include "wire/json_text.hpp"

#include "kernelgate/error.hpp"

#include <utility>

namespace kernelgate::detail {
namespace {

// nlohmann's exception texts start with "[json.exception.<kind>.<id>] "; the rest reads well alone.
std::string without_exception_prefix(const char* what) {
  std::string_view text(what);
  if (text.starts_with("[json.exception.")) {
    if (const auto end = text.find("] "); end != std::string_view::npos) text.remove_prefix(end + 2);
  }
  return std::string(text);
}

// Whether arrays and objects in `text` nest more than `limit` deep. Brackets inside strings do not
// count; the text need not be valid (the parser judges that afterwards).
bool nests_deeper_than(std::string_view text, std::size_t limit) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

const char* type_name(const nlohmann::json& j) { return j.type_name(); }

// Length of the well-formed UTF-8 sequence at text[i], or 0 when it is not one; in that case `bad`
// is the length of its maximal ill-formed prefix (Unicode 15, section 3.9, table 3-7), the unit that
// Python's decode("utf-8", "replace") turns into one U+FFFD.
std::size_t utf8_sequence(std::string_view text, std::size_t i, std::size_t& bad) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;
    if (lead == 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;
    if (lead == 0xf4) high = 0x8f;
  } else {
    bad = 1;
    return 0;
  }
  std::size_t n = 1;
  for (; n < length && i + n < text.size(); ++n) {
    const unsigned char c = byte(i + n);
    const bool ok = n == 1 ? (c >= low && c <= high) : (c >= 0x80 && c <= 0xbf);
    if (!ok) break;
  }
  if (n == length) return length;
  bad = n;
  return 0;
}

// Offset of the first ill-formed UTF-8 byte, or npos when `text` is all well-formed.
std::size_t first_invalid_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    std::size_t bad = 0;
    const std::size_t n = utf8_sequence(text, i, bad);
    if (n == 0) return i;
    i += n;
  }
  return std::string_view::npos;
}

// `text` with each maximal ill-formed subsequence from `from` on replaced by U+FFFD.
std::string replace_invalid_utf8(std::string_view text, std::size_t from) {
  std::string out(text.substr(0, from));
  out.reserve(text.size() + 16);
  for (std::size_t i = from; i < text.size();) {
    std::size_t bad = 0;
    const std::size_t n = utf8_sequence(text, i, bad);
    if (n == 0) {
      out += "\xef\xbf\xbd";
      i += bad;
    } else {
      out.append(text, i, n);
      i += n;
    }
  }
  return out;
}

}  // namespace

void append_json(const nlohmann::json& value, invalid_utf8 policy, std::string_view what, std::string& out) {
  const auto handler = policy == invalid_utf8::replace ? nlohmann::json::error_handler_t::replace
                                                       : nlohmann::json::error_handler_t::strict;
  const std::size_t start = out.size();
  try {
    // The serializer appends to `out` directly, saving a temporary string per frame on the hot path.
    nlohmann::detail::serializer<nlohmann::json> writer(
        nlohmann::detail::output_adapter<char, std::string>(out), ' ', handler);
    writer.dump(value, false, false, 0);
  } catch (const nlohmann::json::type_error& e) {
    out.resize(start);
    throw error(errc::invalid_argument, "cannot write the " + std::string(what) +
                                            " of a message as JSON: it holds a string that is not valid UTF-8 (" +
                                            without_exception_prefix(e.what()) +
                                            "); fix the string, or encode with invalid_utf8::replace");
  }
}

std::string dump_json(const nlohmann::json& value, invalid_utf8 policy, std::string_view what) {
  std::string out;
  append_json(value, policy, what, out);
  return out;
}

nlohmann::json parse_json(std::string_view text, std::string_view what, invalid_utf8 policy) {
  std::string repaired;
  if (const std::size_t bad = first_invalid_utf8(text); bad != std::string_view::npos) {
    if (policy == invalid_utf8::reject) {
      throw error(errc::malformed_message, "malformed message: the " + std::string(what) +
                                               " is not valid UTF-8 (first bad byte at offset " + std::to_string(bad) +
                                               "); decode with invalid_utf8::replace to accept it as the reference does");
    }
    repaired = replace_invalid_utf8(text, bad);
    text = repaired;
  }
  if (nests_deeper_than(text, max_json_depth)) {
    throw error(errc::malformed_message, "malformed message: the " + std::string(what) + " nests arrays or objects more than " +
                                             std::to_string(max_json_depth) + " levels deep");
  }
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    throw error(errc::malformed_message, "malformed message: the " + std::string(what) + " (" +
                                             std::to_string(text.size()) + " bytes) is not valid JSON: " +
                                             without_exception_prefix(e.what()));
  }
}

message make_checked_message(nlohmann::json header, nlohmann::json parent_header, nlohmann::json metadata,
                             nlohmann::json content, channel chan) {
  const auto require_object = [](const nlohmann::json& part, const char* name) {
    if (!part.is_object()) {
      throw error(errc::malformed_message, std::string("malformed message: the ") + name +
                                               " must be a JSON object, but it is a " + type_name(part));
    }
  };
  require_object(header, "header");
  require_object(parent_header, "parent_header");
  require_object(metadata, "metadata");
  require_object(content, "content");
  for (const char* field : {"msg_id", "msg_type"}) {
    const auto it = header.find(field);
    if (it == header.end() || !it->is_string()) {
      throw error(errc::malformed_message, std::string("malformed message: the header has no string '") + field +
                                               "' (every Jupyter message header needs msg_id and msg_type)");
    }
  }
  message m;
  m.header = std::move(header);
  m.parent_header = std::move(parent_header);
  m.metadata = std::move(metadata);
  m.content = std::move(content);
  m.chan = chan;
  return m;
}

message parse_checked_message(std::string_view header, std::string_view parent_header, std::string_view metadata,
                              std::string_view content, std::string_view kind, channel chan, invalid_utf8 policy) {
  const auto name = [&](const char* part) { return std::string(part) + " " + std::string(kind); };
  nlohmann::json h = parse_json(header, name("header"), policy);
  nlohmann::json p = parse_json(parent_header, name("parent_header"), policy);
  nlohmann::json md = parse_json(metadata, name("metadata"), policy);
  nlohmann::json c = parse_json(content, name("content"), policy);
  return make_checked_message(std::move(h), std::move(p), std::move(md), std::move(c), chan);
}

}  // namespace kernelgate::detail
