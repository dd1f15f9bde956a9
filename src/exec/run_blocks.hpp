#ifndef KERNELGATE_SRC_EXEC_RUN_BLOCKS_HPP
#define KERNELGATE_SRC_EXEC_RUN_BLOCKS_HPP

// The command-line executors' execute() loop, written once: each executor (local processes, a
// Docker container) supplies only how one prepared block runs.

#include "exec/code_file.hpp"
#include "exec/output_collector.hpp"
#include "kernelgate/exec/code_executor.hpp"

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <span>
#include <stop_token>

namespace kernelgate::detail {

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
