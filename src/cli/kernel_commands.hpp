#ifndef KERNELGATE_CLI_KERNEL_COMMANDS_HPP
#define KERNELGATE_CLI_KERNEL_COMMANDS_HPP

// The kernel parts of the `kernelgate` command, ready to be wired into the parser and dispatch:
//   kernelgate kernelspecs [--json]
//   kernelgate exec|run|reply -k NAME | --connection-file F   (the kernel executor)

#include "kernelgate/exec/code_executor.hpp"

#include <chrono>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>

namespace kernelgate::cli {

/// `kernelgate kernelspecs`: one line per kernelspec found, "NAME  LANGUAGE  PATH" in aligned
/// columns (or, with `json`, {"kernelspecs": [{"name", "language", "display_name", "path"}]}),
/// then, when none is found, a line naming the directories searched. Returns the exit status (0).
int print_kernelspecs(bool json, std::ostream& out);

/// The executor for `-k NAME` (start that kernelspec; default python3) or `--connection-file F`
/// (attach to a running kernel, which stop() leaves running). `work_dir` empty: a temporary
/// directory; `timeout` unset: the executor's default (60 s per block).
/// @throws kernelgate::error when the kernel cannot be started or attached (no_such_kernel,
///         launch_failed, bad_connection_file, ...): the command prints it and exits 2.
[[nodiscard]] std::unique_ptr<code_executor> make_kernel_cli_executor(const std::string& kernel,
                                                                      const std::filesystem::path& connection_file,
                                                                      const std::filesystem::path& work_dir,
                                                                      std::optional<std::chrono::milliseconds> timeout);

}  // namespace kernelgate::cli

#endif
