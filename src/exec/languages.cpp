#include "exec/languages.hpp"

#include "detail/text.hpp"

#include <array>

namespace kernelgate::detail {

namespace {

struct alias {
  std::string_view tag;
  std::string_view name;
  std::string_view extension;
};

// The order is the order of supported_language_names().
constexpr std::array<alias, 12> aliases = {{
    {"python", "python", "py"},
    {"py", "python", "py"},
    {"python3", "python", "py"},
    {"bash", "bash", "bash"},
    {"sh", "sh", "sh"},
    {"shell", "sh", "sh"},
    {"pwsh", "pwsh", "ps1"},
    {"powershell", "pwsh", "ps1"},
    {"ps1", "pwsh", "ps1"},
    {"javascript", "javascript", "js"},
    {"js", "javascript", "js"},
    {"node", "javascript", "js"},
}};

}  // namespace

std::optional<language_info> canonical_language(std::string_view language) {
  const std::string tag = ascii_lower(trim(language));
  for (const auto& a : aliases) {
    if (a.tag == tag) return language_info{std::string(a.name), std::string(a.extension)};
  }
  return std::nullopt;
}

std::string supported_language_names(const interpreter_table& table) {
  std::string names;
  for (const auto& a : aliases) {
    if (!table.contains(std::string(a.name))) continue;
    if (!names.empty()) names += ", ";
    names += a.tag;
  }
  return names;
}
}  // namespace kernelgate::detail
