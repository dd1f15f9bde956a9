#ifndef KERNELGATE_EXEC_LOCAL_EXECUTOR_HPP
#define KERNELGATE_EXEC_LOCAL_EXECUTOR_HPP

#include "kernelgate/exec/code_executor.hpp"

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

namespace kernelgate {

/// Options of make_local_executor().
struct local_executor_options {
  /// Where code files are written and blocks run. Empty: a new temporary directory, removed by
  /// stop() (a directory given here is created if missing and never removed).
  std::filesystem::path work_dir;
  /// Deadline of each block (AutoGen's timeout is per block too); execute_options::timeout overrides it.
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
  /// The interpreter of python blocks.
  std::filesystem::path python = "/usr/bin/python3";
  /// A virtual environment directory: its bin/python runs python blocks (instead of `python`) and
  /// its bin/ leads PATH, with VIRTUAL_ENV set, so shell blocks see it too.
  std::filesystem::path virtual_env;
  /// Whether blocks start with this process's environment (else with only what `env` sets).
  bool inherit_env = true;
  /// Variables set for every block, over the inherited ones.
  std::map<std::string, std::string> env;
  /// The most output a call keeps (bytes, over all its blocks); the rest is dropped and a line
  /// says how much.
  std::size_t max_output_bytes = std::size_t{1} << 20;
};

/// An executor that runs each block as a local process: python, bash, sh (alias shell), pwsh
/// (aliases powershell, ps1) when pwsh or powershell is on PATH, javascript (aliases js, node) when
/// node is on PATH. Stateless between blocks, like AutoGen's LocalCommandLineCodeExecutor: each
/// block's file is written to the work directory (see detail prepare_block) and run there.
///
/// Per block: one process in a new process group, stdin /dev/null, stdout and stderr read in the
/// order they become readable, each piece streamed as output_kind::stream with name "stdout" or
/// "stderr"; PYTHONUNBUFFERED=1 unless `env` sets it, so Python's prints arrive as they happen.
/// The block ends when its process exits; anything it left running in its group (background
/// children holding the pipes) is killed then, so a call never waits on them. Timeout: the whole
/// group is killed, the output so far is kept, a line says so, exit 124. A stop request (from any
/// thread) does the same with exit 130. Unknown language or a file name outside the work directory:
/// exit 1 with a message. The run stops at the first block that does not exit 0. output_files lists
/// files the call created or changed in the work directory (not the code files). restart() is a
/// no-op: there is no state to reset.
/// @throws kernelgate::error(errc::invalid_argument) for a non-positive timeout or an interpreter
///   that cannot be executed; errc::io_error when the work directory cannot be created.
[[nodiscard]] std::unique_ptr<code_executor> make_local_executor(local_executor_options options = {});

}  // namespace kernelgate

#endif
