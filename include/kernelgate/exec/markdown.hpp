#ifndef KERNELGATE_EXEC_MARKDOWN_HPP
#define KERNELGATE_EXEC_MARKDOWN_HPP

#include "kernelgate/exec/code_executor.hpp"

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace kernelgate {

/// How an unlabelled block is told to be Python (AutoGen 0.2 calls `compile(code, "test", "exec")`).
enum class python_detection {
  /// Ask a Python interpreter to compile() every unlabelled block (one process per extraction, only
  /// when there is an unlabelled block); falls back to `heuristic` when it cannot run.
  interpreter,
  /// A cheap check in C++: string literals are closed, brackets balance, and no line starts with a
  /// character no Python statement can start with ($ ` ? ! & | ; < > and a few more). It accepts
  /// some non-Python (e.g. `ls -la` is a valid Python expression, as it is for compile() too).
  heuristic,
};

/// Options of extract_code_blocks().
struct extract_options {
  python_detection detection = python_detection::interpreter;
  /// The interpreter used by python_detection::interpreter.
  std::filesystem::path python = "/usr/bin/python3";
};

/// Extracts fenced code blocks from a markdown message with AutoGen 0.2's MarkdownCodeExtractor semantics.
///
/// A block is what `re.findall(r"```[ \t]*(\w+)?[ \t]*\r?\n(.*?)\r?\n[ \t]*```", text, re.DOTALL)`
/// finds: three backticks, an optional one-word tag (`\w` = ASCII letters, digits, `_` and any
/// non-ASCII byte), a newline, then everything up to the first newline followed by optional
/// indentation and three backticks. Consequences kept on purpose, so that a message means what it
/// means to AutoGen: `~~~` fences and inline code are not blocks; a tag such as `c++` or
/// `python title` makes the fence not match; an unterminated fence is not a block; a four-backtick
/// fence opens at its second backtick (tag and content as the regex would find them) and ends at
/// the first line that starts with three backticks (a nested fence ends it early).
/// One improvement: CRLF line ends inside the code become LF (shells reject `\r`).
/// An unlabelled block's language is inferred: code starting with "python ", "pip" or "python3 " is
/// `sh`; code that is valid Python is `python`; otherwise the language is empty (executors then
/// answer "unknown language"). A tag is kept as written (executors normalise case and aliases).
/// Thread safety: reentrant.
[[nodiscard]] std::vector<code_block> extract_code_blocks(std::string_view markdown,
                                                          const extract_options& options = {});

/// The language AutoGen 0.2 would infer for unlabelled code: "sh", "python" or "" (unknown).
[[nodiscard]] std::string infer_language(std::string_view code, const extract_options& options = {});

}  // namespace kernelgate

#endif
