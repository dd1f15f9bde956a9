#ifndef KERNELGATE_SRC_EXEC_OUTPUT_COLLECTOR_HPP
#define KERNELGATE_SRC_EXEC_OUTPUT_COLLECTOR_HPP

// A run's output as the executors report it: collected from named streams in arrival order with
// a size cap, and the lines that say a block timed out or was cancelled.

#include "kernelgate/client/output.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace kernelgate::detail {

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

}  // namespace kernelgate::detail

#endif
