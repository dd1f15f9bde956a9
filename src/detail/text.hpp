#ifndef KERNELGATE_DETAIL_TEXT_HPP
#define KERNELGATE_DETAIL_TEXT_HPP

// Small text helpers every layer uses: trimming blanks, ASCII lower case.

#include <string>
#include <string_view>

namespace kernelgate::detail {

/// `s` without leading and trailing blanks (space, tab, CR, LF, FF, VT).
[[nodiscard]] inline std::string_view trim(std::string_view s) noexcept {
  constexpr std::string_view blanks = " \t\r\n\f\v";
  const auto b = s.find_first_not_of(blanks);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(blanks) - b + 1);
}

/// `s` with ASCII letters in lower case (other bytes unchanged).
[[nodiscard]] inline std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace kernelgate::detail

#endif
