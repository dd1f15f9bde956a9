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

nlohmann::json parse_json(std::string_view text, std::string_view what) {
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
                              std::string_view content, std::string_view kind, channel chan) {
  const auto name = [&](const char* part) { return std::string(part) + " " + std::string(kind); };
  nlohmann::json h = parse_json(header, name("header"));
  nlohmann::json p = parse_json(parent_header, name("parent_header"));
  nlohmann::json md = parse_json(metadata, name("metadata"));
  nlohmann::json c = parse_json(content, name("content"));
  return make_checked_message(std::move(h), std::move(p), std::move(md), std::move(c), chan);
}

}  // namespace kernelgate::detail
