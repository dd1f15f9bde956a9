#ifndef KERNELGATE_EXEC_COMMAND_LINE_HPP
#define KERNELGATE_EXEC_COMMAND_LINE_HPP

// What every command-line executor (local processes, a Docker container) does to a code block
// before and after running it, independent of where it runs: language names, the code file (name
// from the first line or a content hash, inside the workspace, written atomically), the output
// collected from streams with a size cap, the lines that say a block timed out or was cancelled,
// and run_blocks(), the execute() loop itself; an executor supplies only how one block runs.
// A Docker executor passes the interpreters inside its container and a runner that execs there;
// the bind-mounted workspace is where prepare_block() writes.

#include "kernelgate/client/output.hpp"
#include "kernelgate/exec/code_executor.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <stop_token>
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

/// The line that ends the output of a block stopped by its deadline (exit 124).
[[nodiscard]] std::string timeout_note(std::chrono::milliseconds timeout);
/// The line that ends the output of a run cancelled through its stop token (exit 130).
[[nodiscard]] std::string cancelled_note();

/// Collects a run's output from named streams in arrival order, up to a byte limit, and forwards
/// every piece it keeps to the streaming handler (so the handler sees exactly the result's output).
/// Text beyond the limit is dropped and counted; a note saying how much follows at the next note()
/// or at take(). Pieces never split a UTF-8 sequence. Not thread-safe.
class output_collector {
 public:
  output_collector(std::size_t limit, const output_handler& handler) : limit_(limit), handler_(handler) {}
  output_collector(const output_collector&) = delete;
  output_collector& operator=(const output_collector&) = delete;

  /// Text read from a stream ("stdout" or "stderr"); an incomplete trailing UTF-8 sequence waits
  /// for the rest.
  void append(std::string_view name, std::string_view text);
  /// Emits what streams still hold back (at the end of a block).
  void flush_streams();
  /// A line of our own (timeout, cancellation, unknown language), on its own line, never capped.
  void note(std::string_view line);
  [[nodiscard]] const std::string& text() const noexcept { return text_; }
  /// Ends collection: the pending truncation note, then the whole output.
  [[nodiscard]] std::string take();

 private:
  void emit(std::string_view name, std::string_view text);
  void report_truncation();

  std::size_t limit_;
  const output_handler& handler_;
  bool handler_failed_ = false;
  std::string text_;
  std::size_t dropped_ = 0;
  std::map<std::string, std::string, std::less<>> partial_;
};

/// Regular files under a directory with their size and modification time, to tell which files a
/// run created or changed. Gives up (empty) past `max_entries` entries, so huge trees cost little.
class file_snapshot {
 public:
  static file_snapshot take(const std::filesystem::path& dir, std::size_t max_entries = 10000);
  /// Absolute paths of files new or changed in `after`, sorted, without those in `except`.
  [[nodiscard]] std::vector<std::string> changed_in(const file_snapshot& after,
                                                    const std::vector<std::filesystem::path>& except) const;
  [[nodiscard]] bool complete() const noexcept { return complete_; }

 private:
  struct stamp {
    std::uintmax_t size = 0;
    std::filesystem::file_time_type time;
    bool operator==(const stamp&) const = default;
  };
  std::map<std::filesystem::path, stamp> files_;
  bool complete_ = false;
};

/// How a block's process ended.
enum class block_end { exited, timed_out, cancelled };

struct block_outcome {
  block_end end = block_end::exited;
  int status = 0;  ///< the exit status when end == exited
};

/// Runs one prepared block where the executor runs code (a local process, a container exec),
/// feeding its output to the collector in arrival order, until it exits, the timeout passes, or the
/// run is cancelled; it must leave nothing running behind. May throw kernelgate::error (the run
/// then ends with exit 1 and the error's message).
using block_runner =
    std::function<block_outcome(const prepared_block& block, std::chrono::milliseconds timeout, output_collector& out)>;

/// What run_blocks() needs besides the blocks.
struct run_settings {
  std::filesystem::path workspace;       ///< where code files go
  const interpreter_table* table = nullptr;   ///< required
  std::chrono::milliseconds timeout{};   ///< per block
  std::size_t max_output_bytes = 0;
  const output_handler* handler = nullptr;
  std::stop_token stop;                  ///< checked between blocks; the runner watches it during one
};

/// The command-line executors' execute(): prepares and runs the blocks in order, stops at the
/// first that fails (exit 1 for an unknown language, a file name outside the workspace or a
/// runner error; 124 with timeout_note(); 130 with cancelled_note(); else the process's status),
/// collects the output with the cap, sets code_file to the first file written and output_files to
/// the files the run created or changed in the workspace.
[[nodiscard]] code_result run_blocks(std::span<const code_block> blocks, const run_settings& settings,
                                     const block_runner& runner);

}  // namespace kernelgate::detail

#endif
