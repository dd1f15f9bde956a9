#include "wire/json_text.hpp"

#include "kernelgate/error.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <utility>

namespace kernelgate::detail {
namespace {

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

// U+FFFD REPLACEMENT CHARACTER, which stands in for ill-formed UTF-8 under invalid_utf8::replace.
constexpr std::string_view replacement_character = "\xef\xbf\xbd";

// Bytes that stand for themselves inside a JSON string, both ways: printable ASCII except '"' and '\'.
bool plain_string_byte(unsigned char c) { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; }

// Where and why a JSON text is not acceptable; turned into a kernelgate::error by parse_json.
struct reject_json {
  std::size_t offset;
  std::string why;
};

// A JSON reader that builds nlohmann::json values directly. It exists for speed: message content is
// mostly long strings (stream output, images), which it copies in runs instead of byte by byte, and
// it checks UTF-8 and nesting on the way instead of in extra passes. It accepts exactly RFC 8259
// JSON (ill-formed UTF-8 aside, which follows the policy), and gives the values nlohmann's parser gives (integers as int64/uint64, else double; the
// last of duplicate keys wins).
class json_reader {
 public:
  json_reader(std::string_view text, invalid_utf8 policy) : text_(text), policy_(policy) {}

  nlohmann::json document() {
    skip_space();
    nlohmann::json value = read_value(0);
    skip_space();
    if (at_ < text_.size()) fail("unexpected text after the JSON value");
    return value;
  }

 private:
  [[noreturn]] void fail(std::string why) const { throw reject_json{at_, std::move(why)}; }

  void skip_space() {
    while (at_ < text_.size()) {
      const char c = text_[at_];
      if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return;
      ++at_;
    }
  }

  void expect(char c, const char* context) {
    if (at_ >= text_.size() || text_[at_] != c) fail(std::string("expected '") + c + "' " + context);
    ++at_;
  }

  nlohmann::json read_value(std::size_t depth) {
    if (at_ >= text_.size()) fail("unexpected end of the text, expected a value");
    switch (text_[at_]) {
      case '{': return read_object(depth + 1);
      case '[': return read_array(depth + 1);
      case '"': return nlohmann::json(read_string());
      case 't': return read_literal("true", true);
      case 'f': return read_literal("false", false);
      case 'n': return read_literal("null", nullptr);
      default: return read_number();
    }
  }

  nlohmann::json read_literal(std::string_view word, nlohmann::json value) {
    if (text_.substr(at_, word.size()) != word) fail("invalid literal, expected a value");
    at_ += word.size();
    return value;
  }

  void check_depth(std::size_t depth) const {
    if (depth > max_json_depth) {
      fail("arrays or objects nest more than " + std::to_string(max_json_depth) + " levels deep");
    }
  }

  // The members of an array or object, between its brackets: read_one() reads each one.
  template <class ReadOne>
  void read_sequence(char close, const char* context, ReadOne read_one) {
    ++at_;  // the opening bracket
    skip_space();
    if (at_ < text_.size() && text_[at_] == close) {
      ++at_;
      return;
    }
    for (;;) {
      skip_space();
      read_one();
      skip_space();
      if (at_ >= text_.size() || text_[at_] != ',') break;
      ++at_;
    }
    expect(close, context);
  }

  nlohmann::json read_object(std::size_t depth) {
    check_depth(depth);
    nlohmann::json result = nlohmann::json::object();
    auto& members = result.get_ref<nlohmann::json::object_t&>();
    read_sequence('}', "or ',' in an object", [&] {
      if (at_ >= text_.size() || text_[at_] != '"') fail("expected a string key in an object");
      std::string key = read_string();
      skip_space();
      expect(':', "after an object key");
      skip_space();
      members.insert_or_assign(std::move(key), read_value(depth));
    });
    return result;
  }

  nlohmann::json read_array(std::size_t depth) {
    check_depth(depth);
    nlohmann::json result = nlohmann::json::array();
    auto& elements = result.get_ref<nlohmann::json::array_t&>();
    read_sequence(']', "or ',' in an array", [&] { elements.push_back(read_value(depth)); });
    return result;
  }

  std::string read_string() {
    ++at_;  // the opening quote
    std::string out;
    for (;;) {
      const std::size_t run = at_;
      while (at_ < text_.size() && plain_string_byte(static_cast<unsigned char>(text_[at_]))) ++at_;
      out.append(text_, run, at_ - run);
      if (at_ >= text_.size()) fail("unterminated string");
      const auto c = static_cast<unsigned char>(text_[at_]);
      if (c == '"') {
        ++at_;
        return out;
      }
      if (c == '\\') {
        read_escape(out);
      } else if (c < 0x20) {
        fail("a control character (byte " + std::to_string(c) + ") inside a string must be escaped");
      } else {
        std::size_t bad = 0;
        const std::size_t n = utf8_sequence(text_, at_, bad);
        if (n > 0) {
          out.append(text_, at_, n);
          at_ += n;
        } else {
          if (policy_ == invalid_utf8::reject) fail("the text is not valid UTF-8");
          out += replacement_character;
          at_ += bad;
        }
      }
    }
  }

  unsigned read_hex4() {
    if (text_.size() - at_ < 4) fail("a \\u escape needs four hex digits");
    unsigned value = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[at_++];
      value <<= 4;
      if (c >= '0' && c <= '9') {
        value |= static_cast<unsigned>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        value |= static_cast<unsigned>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        value |= static_cast<unsigned>(c - 'A' + 10);
      } else {
        --at_;
        fail("a \\u escape needs four hex digits");
      }
    }
    return value;
  }

  void read_escape(std::string& out) {
    ++at_;  // the backslash
    if (at_ >= text_.size()) fail("unterminated string");
    const char c = text_[at_++];
    switch (c) {
      case '"': out += '"'; return;
      case '\\': out += '\\'; return;
      case '/': out += '/'; return;
      case 'b': out += '\b'; return;
      case 'f': out += '\f'; return;
      case 'n': out += '\n'; return;
      case 'r': out += '\r'; return;
      case 't': out += '\t'; return;
      case 'u': break;
      default: --at_; fail("invalid escape in a string");
    }
    unsigned code = read_hex4();
    if (code >= 0xd800 && code <= 0xdbff && text_.substr(at_, 2) == "\\u") {
      const std::size_t low_at = at_;
      at_ += 2;
      const unsigned low = read_hex4();
      if (low >= 0xdc00 && low <= 0xdfff) {
        code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
      } else {
        at_ = low_at;  // the second escape stands on its own
      }
    }
    if (code >= 0xd800 && code <= 0xdfff) {
      // A lone surrogate has no UTF-8 form: the same policy as ill-formed UTF-8.
      if (policy_ == invalid_utf8::reject) fail("a \\u escape holds a lone surrogate");
      out += replacement_character;
      return;
    }
    append_utf8(code, out);
  }

  static void append_utf8(unsigned code, std::string& out) {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xc0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3f));
    } else if (code < 0x10000) {
      out += static_cast<char>(0xe0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (code & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (code >> 18));
      out += static_cast<char>(0x80 | ((code >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (code & 0x3f));
    }
  }

  bool digit_here() const { return at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9'; }
  void skip_digits() {
    while (digit_here()) ++at_;
  }

  nlohmann::json read_number() {
    const std::size_t start = at_;
    if (at_ < text_.size() && text_[at_] == '-') ++at_;
    if (!digit_here()) fail("invalid literal, expected a value");
    if (text_[at_] == '0') {
      ++at_;
    } else {
      skip_digits();
    }
    bool integral = true;
    if (at_ < text_.size() && text_[at_] == '.') {
      ++at_;
      if (!digit_here()) fail("a number needs digits after its decimal point");
      skip_digits();
      integral = false;
    }
    if (at_ < text_.size() && (text_[at_] == 'e' || text_[at_] == 'E')) {
      ++at_;
      if (at_ < text_.size() && (text_[at_] == '+' || text_[at_] == '-')) ++at_;
      if (!digit_here()) fail("a number needs digits in its exponent");
      skip_digits();
      integral = false;
    }
    const char* first = text_.data() + start;
    const char* last = text_.data() + at_;
    if (integral) {
      if (*first == '-') {
        std::int64_t value = 0;
        if (const auto r = std::from_chars(first, last, value); r.ec == std::errc() && r.ptr == last) return value;
      } else {
        std::uint64_t value = 0;
        if (const auto r = std::from_chars(first, last, value); r.ec == std::errc() && r.ptr == last) return value;
      }
      // Too large for 64 bits: a double, as nlohmann reads it.
    }
    double value = 0;
    const auto r = std::from_chars(first, last, value);
    if (r.ec == std::errc() && r.ptr == last) return value;
    // Out of range: underflow reads as (nearly) zero; overflow has no JSON value.
    value = std::strtod(std::string(first, last).c_str(), nullptr);
    if (std::isinf(value)) {
      at_ = start;
      fail("a number is too large for a double");
    }
    return value;
  }

  std::string_view text_;
  invalid_utf8 policy_;
  std::size_t at_ = 0;
};

// Thrown by json_writer for a string that is not UTF-8 under invalid_utf8::reject.
struct unwritable_string {
  std::size_t offset;
};

// Writes nlohmann::json values as compact JSON, byte for byte as nlohmann's dump() does for valid
// UTF-8 (a test holds it to that), but copying runs of plain string bytes instead of going byte by
// byte through a UTF-8 decoder: message content is mostly long strings. Numbers other than integers
// go to nlohmann's own serializer, so floats are formatted exactly as nlohmann formats them.
class json_writer {
 public:
  json_writer(std::string& out, invalid_utf8 policy)
      : out_(out), policy_(policy), numbers_(nlohmann::detail::output_adapter<char, std::string>(out), ' ') {}

  void write(const nlohmann::json& value) {
    using value_t = nlohmann::json::value_t;
    switch (value.type()) {
      case value_t::object: {
        out_ += '{';
        bool first = true;
        for (const auto& [key, member] : value.get_ref<const nlohmann::json::object_t&>()) {
          if (!first) out_ += ',';
          first = false;
          write_string(key);
          out_ += ':';
          write(member);
        }
        out_ += '}';
        return;
      }
      case value_t::array: {
        out_ += '[';
        bool first = true;
        for (const nlohmann::json& element : value.get_ref<const nlohmann::json::array_t&>()) {
          if (!first) out_ += ',';
          first = false;
          write(element);
        }
        out_ += ']';
        return;
      }
      case value_t::string: write_string(value.get_ref<const std::string&>()); return;
      case value_t::boolean: out_ += value.get<bool>() ? "true" : "false"; return;
      case value_t::number_integer: write_integer(value.get<std::int64_t>()); return;
      case value_t::number_unsigned: write_integer(value.get<std::uint64_t>()); return;
      case value_t::null:
      case value_t::discarded: out_ += "null"; return;
      case value_t::number_float:
      case value_t::binary: numbers_.dump(value, false, false, 0); return;
    }
  }

 private:
  template <class Integer>
  void write_integer(Integer v) {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, v).ptr;
    out_.append(digits, end);
  }

  void write_string(std::string_view s) {
    out_ += '"';
    for (std::size_t i = 0; i < s.size();) {
      const std::size_t run = i;
      while (i < s.size() && plain_string_byte(static_cast<unsigned char>(s[i]))) ++i;
      out_.append(s, run, i - run);
      if (i >= s.size()) break;
      const auto c = static_cast<unsigned char>(s[i]);
      if (c >= 0x80) {
        std::size_t bad = 0;
        const std::size_t n = utf8_sequence(s, i, bad);
        if (n > 0) {
          out_.append(s, i, n);
          i += n;
          continue;
        }
        if (policy_ == invalid_utf8::reject) throw unwritable_string{i};
        out_ += replacement_character;
        i += bad;
        continue;
      }
      ++i;
      switch (c) {
        case '"': out_ += "\\\""; break;
        case '\\': out_ += "\\\\"; break;
        case '\b': out_ += "\\b"; break;
        case '\f': out_ += "\\f"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        default: {
          static constexpr char hex[] = "0123456789abcdef";
          const char escape[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
          out_.append(escape, sizeof escape);
        }
      }
    }
    out_ += '"';
  }

  std::string& out_;
  invalid_utf8 policy_;
  nlohmann::detail::serializer<nlohmann::json> numbers_;
};

}  // namespace

void append_json(const nlohmann::json& value, invalid_utf8 policy, std::string_view what, std::string& out) {
  const std::size_t start = out.size();
  try {
    json_writer(out, policy).write(value);
  } catch (const unwritable_string& e) {
    out.resize(start);
    throw error(errc::invalid_argument, "cannot write the " + std::string(what) +
                                            " of a message as JSON: it holds a string that is not valid UTF-8 (byte " +
                                            std::to_string(e.offset) +
                                            " of that string); fix the string, or encode with invalid_utf8::replace");
  }
}

std::string dump_json(const nlohmann::json& value, invalid_utf8 policy, std::string_view what) {
  std::string out;
  append_json(value, policy, what, out);
  return out;
}

nlohmann::json parse_json(std::string_view text, std::string_view what, invalid_utf8 policy) {
  try {
    return json_reader(text, policy).document();
  } catch (const reject_json& e) {
    std::string message = "malformed message: the " + std::string(what) + " (" + std::to_string(text.size()) +
                          " bytes) is not valid JSON: " + e.why + " at byte " + std::to_string(e.offset);
    if (e.why.find("UTF-8") != std::string::npos || e.why.find("surrogate") != std::string::npos) {
      message += "; decode with invalid_utf8::replace to accept it as jupyter_client does";
    }
    throw error(errc::malformed_message, message);
  }
}

std::string shape_problem(const nlohmann::json& header, const nlohmann::json& parent_header,
                          const nlohmann::json& metadata, const nlohmann::json& content) {
  const std::pair<const nlohmann::json*, const char*> parts[] = {
      {&header, "header"}, {&parent_header, "parent_header"}, {&metadata, "metadata"}, {&content, "content"}};
  for (const auto& [part, name] : parts) {
    if (!part->is_object()) return std::string("the ") + name + " must be a JSON object, but it is a " + part->type_name();
  }
  for (const char* field : {"msg_id", "msg_type"}) {
    const auto it = header.find(field);
    if (it == header.end() || !it->is_string()) {
      return std::string("the header has no string '") + field +
             "' (every Jupyter message header needs msg_id and msg_type)";
    }
  }
  return {};
}

void check_sendable(const message& m) {
  if (const std::string problem = shape_problem(m.header, m.parent_header, m.metadata, m.content); !problem.empty()) {
    throw error(errc::invalid_argument, "cannot send this message: " + problem +
                                            "; build messages with make_message, which fills the header");
  }
}

message make_checked_message(nlohmann::json header, nlohmann::json parent_header, nlohmann::json metadata,
                             nlohmann::json content, channel chan) {
  if (const std::string problem = shape_problem(header, parent_header, metadata, content); !problem.empty()) {
    throw error(errc::malformed_message, "malformed message: " + problem);
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
