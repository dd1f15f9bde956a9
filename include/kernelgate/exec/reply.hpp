#ifndef KERNELGATE_EXEC_REPLY_HPP
#define KERNELGATE_EXEC_REPLY_HPP

#include "kernelgate/exec/code_executor.hpp"
#include "kernelgate/exec/markdown.hpp"

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kernelgate {

/// AutoGen's reply text for a result, exactly:
/// `exitcode: N (execution succeeded|execution failed)\nCode output: <output>`.
[[nodiscard]] std::string format_reply(const code_result& result);

/// A human's (or a policy's) answer to "run these blocks?".
struct approval {
  bool approved = true;
  std::string reason;  ///< why not; becomes part of the reply when denied
};

/// Asked once per message with every block that would run. Runs on the caller's thread.
using approval_callback = std::function<approval(std::span<const code_block> blocks)>;

/// What agent_reply() did.
enum class reply_outcome {
  executed,   ///< the blocks ran; `result` holds what happened
  denied,     ///< the approval callback said no; nothing ran
  no_blocks,  ///< the message had no code block; nothing ran
};

/// The reply to a message plus what led to it.
struct agent_reply {
  reply_outcome outcome = reply_outcome::no_blocks;
  std::string text;                   ///< the reply to send back
  std::vector<code_block> blocks;     ///< the blocks found in the message
  std::optional<code_result> result;  ///< set when the blocks ran
};

/// Options of agent_reply().
struct reply_options {
  /// Asked before anything runs; unset means approved (AutoGen's human_input_mode NEVER).
  approval_callback approve;
  execute_options execute;
  extract_options extract;
};

/// The reply text when a message has no code block (AutoGen 0.4's wording, shortened).
inline constexpr std::string_view no_code_blocks_reply =
    "No code blocks found in the message. Please provide at least one markdown code block to execute "
    "(for example ```python or ```sh).";

/// The reply text prefix when the approval callback denies (AutoGen 0.4's wording).
inline constexpr std::string_view not_approved_reply = "Code execution was not approved. Reason: ";

/// The code-execution auto-reply of an AutoGen agent: extracts the message's code blocks, asks the
/// approval callback, runs them on `executor` and answers with format_reply().
///
/// - No blocks: outcome no_blocks and the text no_code_blocks_reply (AutoGen 0.2 would fall
///   through to the LLM; the caller can do that by checking the outcome).
/// - Denied: outcome denied and the text `Code execution was not approved. Reason: <reason>`
///   (AutoGen 0.4's approval_func; the reason plays the role of 0.2's ALWAYS-mode feedback).
/// @throws whatever the executor or the approval callback throws (kernelgate::error for an
///   executor that cannot run at all).
/// Thread safety: as the executor's execute().
[[nodiscard]] agent_reply generate_reply(code_executor& executor, std::string_view message,
                                         const reply_options& options = {});

}  // namespace kernelgate

#endif
