#ifndef KERNELGATE_SRC_EXEC_LANGUAGES_HPP
#define KERNELGATE_SRC_EXEC_LANGUAGES_HPP

// The languages the command-line executors know: block tags, canonical names, file extensions,
// and the table of interpreters where the code runs.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kernelgate::detail {

/// A language a command-line executor can know: its canonical name and file extension.
struct language_info {
  std::string name;       ///< python, bash, sh, pwsh or javascript
  std::string extension;  ///< py, bash, sh, ps1 or js
};

/// Resolves a block's language tag, case-insensitively: python/py/python3 → python, bash,
/// sh/shell → sh, pwsh/powershell/ps1 → pwsh, javascript/js/node → javascript. nullopt otherwise.
[[nodiscard]] std::optional<language_info> canonical_language(std::string_view language);

/// The interpreters available where the code runs: canonical language → program and its leading
/// arguments (the code file's name, relative to the workspace, is appended).
using interpreter_table = std::map<std::string, std::vector<std::string>>;

/// The tags a user may write for the table's languages, e.g. "python, py, python3, sh, shell".
[[nodiscard]] std::string supported_language_names(const interpreter_table& table);

}  // namespace kernelgate::detail

#endif
