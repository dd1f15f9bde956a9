#ifndef KERNELGATE_CLIENT_OUTPUT_HPP
#define KERNELGATE_CLIENT_OUTPUT_HPP

#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace kernelgate {

/// What an output is, after nbformat's output types (plus the two display-control messages).
enum class output_kind { stream, display_data, execute_result, error, update_display_data, clear_output };

[[nodiscard]] const char* to_string(output_kind k) noexcept;

/// One output as it arrives, from a kernel's IOPub or a process's stdout/stderr.
struct output {
  output_kind kind = output_kind::stream;
  std::string name;                        ///< stream: "stdout" or "stderr"
  std::string text;                        ///< stream text; text/plain of a display or result; error summary
  nlohmann::json data = nlohmann::json::object();      ///< mime bundle of display/result/update
  nlohmann::json metadata = nlohmann::json::object();  ///< display metadata
  std::string display_id;                  ///< transient.display_id, if any
  std::optional<int> execution_count;      ///< execute_result only
  std::string ename, evalue;               ///< error only
  std::vector<std::string> traceback;      ///< error only, ANSI escapes removed
  bool wait = false;                       ///< clear_output only
  std::vector<std::string> files;          ///< rich data of this output saved to these paths
};

/// Streaming callback. Called on a library thread, one output at a time, in arrival order; it must
/// not block for long. Exceptions it throws are caught and reported, never propagated.
using output_handler = std::function<void(const output&)>;

}  // namespace kernelgate

#endif
