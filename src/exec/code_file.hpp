#ifndef KERNELGATE_SRC_EXEC_CODE_FILE_HPP
#define KERNELGATE_SRC_EXEC_CODE_FILE_HPP

// A block's code file, as every command-line executor writes it: the name from the first line or
// a content hash, inside the workspace, written atomically.

#include "exec/languages.hpp"
#include "kernelgate/exec/code_executor.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kernelgate::detail {

/// AutoGen's text when a name in the first line leaves the workspace (exit 1).
inline constexpr std::string_view outside_workspace_message = "Filename is not in the workspace";

/// The file name named by the code's first line, if it names one. Accepted forms (after trimming):
/// `# filename: NAME`, `// filename: NAME`, `/* filename: NAME */`, `<!-- filename: NAME -->`; the
/// `filename:` prefix may be left out (as AutoGen 0.2 allows) only when the rest looks like a file
/// name — no blanks and an extension — so a comment such as `# load data` stays a comment.
[[nodiscard]] std::optional<std::string> filename_from_first_line(std::string_view code);

/// A block ready to run: its file is written and the command line is known.
struct prepared_block {
  language_info language;
  std::filesystem::path file;           ///< absolute path of the written file on this host
  std::filesystem::path relative_file;  ///< the same, relative to the workspace
  std::vector<std::string> argv;        ///< interpreter + relative_file; run it in the workspace
};

/// The outcome of prepare_block(): a block to run, or the message that ends the run with exit 1.
struct preparation {
  std::optional<prepared_block> block;
  std::string failure;
};

/// Resolves the language against `table`, picks the file name (first line, else
/// `tmp_code_<sha256 of the code>.<ext>`), refuses names that resolve outside `workspace`
/// (symbolic links included), creates sub-directories, and writes the code atomically (a temporary
/// file renamed over the target: a concurrent run of the same code never sees a torn file, and
/// identical content makes the shared hashed name harmless).
/// @throws kernelgate::error(errc::io_error) when the file cannot be written.
[[nodiscard]] preparation prepare_block(const code_block& block, const std::filesystem::path& workspace,
                                        const interpreter_table& table);

/// Lower-case hex SHA-256 of `data`.
[[nodiscard]] std::string sha256_hex(std::string_view data);

}  // namespace kernelgate::detail

#endif
