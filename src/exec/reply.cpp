#include "kernelgate/exec/reply.hpp"

namespace kernelgate {

std::string format_reply(const code_result& result) {
  std::string text = "exitcode: " + std::to_string(result.exit_code);
  text += result.exit_code == exit_code::success ? " (execution succeeded)" : " (execution failed)";
  text += "\nCode output: ";
  text += result.output;
  return text;
}

agent_reply generate_reply(code_executor& executor, std::string_view message, const reply_options& options) {
  agent_reply reply;
  reply.blocks = extract_code_blocks(message, options.extract);
  if (reply.blocks.empty()) {
    reply.outcome = reply_outcome::no_blocks;
    reply.text = no_code_blocks_reply;
    return reply;
  }
  if (options.approve) {
    const approval answer = options.approve(reply.blocks);
    if (!answer.approved) {
      reply.outcome = reply_outcome::denied;
      reply.text = std::string(not_approved_reply) + (answer.reason.empty() ? "none given" : answer.reason);
      return reply;
    }
  }
  reply.result = executor.execute(std::span<const code_block>(reply.blocks), options.execute);
  reply.outcome = reply_outcome::executed;
  reply.text = format_reply(*reply.result);
  return reply;
}

}  // namespace kernelgate
