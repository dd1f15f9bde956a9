#ifndef KERNELGATE_CLI_OPTIONS_HPP
#define KERNELGATE_CLI_OPTIONS_HPP

// The `kernelgate` command line, parsed.

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace kernelgate {
class code_executor;
}

namespace kernelgate::cli {

/// Bad flags or input: the command prints the message and exits with status 2.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class command { help, version, exec, run, reply };

struct options {
  command cmd = command::help;
  std::vector<std::string> codes;        ///< exec: -c CODE, one block each
  std::optional<std::string> language;   ///< --lang
  std::vector<std::string> files;        ///< run: FILE...; reply: FILE or "-"
  std::string executor = "local";        ///< --executor
  std::filesystem::path work_dir;        ///< --work-dir; empty: a temporary directory
  std::optional<std::chrono::milliseconds> timeout;  ///< --timeout SECONDS, per block
  bool json = false;                     ///< --json
  bool approve = false;                  ///< reply --approve
};

/// Parses argv (without argv[0]). @throws usage_error.
[[nodiscard]] options parse(const std::vector<std::string>& args);

/// The --help text.
[[nodiscard]] const char* help_text() noexcept;

/// Builds the executor the options name. The one place where a backend is chosen: wiring in
/// another backend (kernel, gateway, docker, auto) means adding a case here.
/// @throws usage_error for an unknown or unavailable executor; kernelgate::error when it cannot start.
[[nodiscard]] std::unique_ptr<code_executor> make_executor(const options& opts);

}  // namespace kernelgate::cli

#endif
