// Papermill-style parameters: typing command-line values, translating values into assignments in
// the kernel's language, and injecting the `injected-parameters` cell.
#include "kernelgate/error.hpp"
#include "kernelgate/notebook/notebook.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>

namespace kernelgate {

namespace {

using json = nlohmann::json;

bool valid_identifier(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name.front()))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || static_cast<unsigned char>(c) >= 0x80;
  });
}

// A double-quoted literal with C-style escapes, valid in Python, R and Julia for these characters.
std::string quoted(const std::string& s, bool escape_dollar) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '$':
        out += escape_dollar ? "\\$" : "$";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

struct language_rules {
  const char* comment;
  const char* null_value;
  const char* true_value;
  const char* false_value;
  const char* list_open;
  const char* list_close;
  bool escape_dollar;
};

const language_rules* rules_for(std::string_view language) {
  static const language_rules python{"#", "None", "True", "False", "[", "]", false};
  static const language_rules r{"#", "NULL", "TRUE", "FALSE", "list(", ")", false};
  static const language_rules julia{"#", "nothing", "true", "false", "[", "]", true};
  std::string lang(language);
  std::transform(lang.begin(), lang.end(), lang.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lang == "python" || lang == "python3") return &python;
  if (lang == "r") return &r;
  if (lang == "julia") return &julia;
  return nullptr;
}

std::string translate(const json& v, const language_rules& rules) {
  switch (v.type()) {
    case json::value_t::null: return rules.null_value;
    case json::value_t::boolean: return v.get<bool>() ? rules.true_value : rules.false_value;
    case json::value_t::string: return quoted(v.get<std::string>(), rules.escape_dollar);
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: return v.dump();
    case json::value_t::array: {
      std::string out = rules.list_open;
      bool first = true;
      for (const auto& item : v) {
        if (!first) out += ", ";
        first = false;
        out += translate(item, rules);
      }
      return out + rules.list_close;
    }
    case json::value_t::object: {
      // Python dict, R named list, Julia Dict.
      const bool is_r = std::string_view(rules.null_value) == "NULL";
      const bool is_julia = std::string_view(rules.null_value) == "nothing";
      std::string out = is_r ? "list(" : is_julia ? "Dict(" : "{";
      bool first = true;
      for (const auto& [key, item] : v.items()) {
        if (!first) out += ", ";
        first = false;
        out += quoted(key, rules.escape_dollar) + (is_r ? " = " : is_julia ? " => " : ": ") + translate(item, rules);
      }
      return out + (is_r || is_julia ? ")" : "}");
    }
    default: return rules.null_value;
  }
}

// POSIX shell: single quotes protect everything but the single quote itself.
std::string shell_quoted(const std::string& s) {
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

json parse_parameter_value(std::string_view text) {
  if (text == "True" || text == "true") return true;
  if (text == "False" || text == "false") return false;
  if (text == "None" || text == "null") return nullptr;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  long long i = 0;
  if (auto [p, ec] = std::from_chars(first, last, i); ec == std::errc() && p == last && !text.empty()) return i;
  double d = 0;
  if (auto [p, ec] = std::from_chars(first, last, d); ec == std::errc() && p == last && !text.empty()) return d;
  return std::string(text);
}

std::string parameters_source(const parameter_list& parameters, std::string_view language) {
  for (const auto& [name, value] : parameters)
    if (!valid_identifier(name))
      throw error(errc::invalid_argument, "parameter name '" + name + "' is not a valid identifier");
  std::string lang(language);
  std::transform(lang.begin(), lang.end(), lang.begin(), [](unsigned char c) { return std::tolower(c); });
  std::string out;
  if (lang == "bash" || lang == "sh" || lang == "shell") {
    out = "# Parameters\n";
    for (const auto& [name, value] : parameters)
      out += name + "=" + shell_quoted(value.is_string() ? value.get<std::string>() : value.dump()) + "\n";
    return out;
  }
  const auto* rules = rules_for(lang);
  if (!rules)
    throw error(errc::invalid_argument, "cannot write parameters in language '" + lang +
                                            "'; supported: python, r, julia, bash");
  out = std::string(rules->comment) + " Parameters\n";
  for (const auto& [name, value] : parameters) out += name + " = " + translate(value, *rules) + "\n";
  return out;
}

void inject_parameters(notebook& nb, const parameter_list& parameters) {
  if (parameters.empty()) return;
  auto& cells = nb.cells();
  // An earlier injection is replaced, wherever it was.
  for (auto it = cells.begin(); it != cells.end();) {
    if (cell_has_tag(*it, "injected-parameters")) it = cells.erase(it);
    else ++it;
  }
  std::size_t at = 0;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (cell_has_tag(cells[i], "parameters")) {
      at = i + 1;
      break;
    }
  }
  cells.insert(cells.begin() + static_cast<std::ptrdiff_t>(at),
               nb.make_code_cell(parameters_source(parameters, nb.language()), {"injected-parameters"}));
  auto& recorded = nb.metadata()["papermill"]["parameters"];
  if (!recorded.is_object()) recorded = json::object();
  for (const auto& [name, value] : parameters) recorded[name] = value;
}

}  // namespace kernelgate
