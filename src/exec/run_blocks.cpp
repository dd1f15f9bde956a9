#include "exec/run_blocks.hpp"

#include "exec/file_snapshot.hpp"
#include "kernelgate/error.hpp"

namespace kernelgate::detail {

code_result run_blocks(std::span<const code_block> blocks, const run_settings& settings, const block_runner& runner) {
  static const output_handler no_handler;
  output_collector out(settings.max_output_bytes, settings.handler ? *settings.handler : no_handler);
  code_result result;
  std::vector<std::filesystem::path> written;
  const auto before = file_snapshot::take(settings.workspace);
  for (const auto& block : blocks) {
    if (settings.stop.stop_requested()) {
      result.exit_code = exit_code::cancelled;
      out.note(cancelled_note());
      break;
    }
    preparation prep;
    try {
      prep = prepare_block(block, settings.workspace, *settings.table);
    } catch (const std::exception& e) {  // kernelgate::error, or a path the file system refuses
      prep.failure = e.what();
    }
    if (!prep.block) {
      result.exit_code = exit_code::failure;
      out.note(prep.failure);
      break;
    }
    if (!result.code_file) result.code_file = prep.block->file.string();
    written.push_back(prep.block->file);

    block_outcome outcome;
    try {
      outcome = runner(*prep.block, settings.timeout, out);
    } catch (const error& e) {
      out.flush_streams();
      result.exit_code = exit_code::failure;
      out.note(e.what());
      break;
    }
    out.flush_streams();
    if (outcome.end == block_end::timed_out) {
      result.exit_code = exit_code::timeout;
      out.note(timeout_note(settings.timeout));
      break;
    }
    if (outcome.end == block_end::cancelled) {
      result.exit_code = exit_code::cancelled;
      out.note(cancelled_note());
      break;
    }
    result.exit_code = outcome.status;
    if (outcome.status != exit_code::success) break;
  }
  result.output = out.take();
  result.output_files = before.changed_in(file_snapshot::take(settings.workspace), written);
  return result;
}

}  // namespace kernelgate::detail
