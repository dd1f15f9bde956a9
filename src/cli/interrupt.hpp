#ifndef KERNELGATE_CLI_INTERRUPT_HPP
#define KERNELGATE_CLI_INTERRUPT_HPP

#include "detail/process.hpp"

#include <stop_token>
#include <thread>

namespace kernelgate::cli {

/// Turns SIGINT and SIGTERM into a stop request, so Ctrl-C cancels the running block (exit 130)
/// instead of killing the command and leaving a child behind; a second one exits at once with 130.
/// Construct it before any other thread starts: it blocks the two signals for the process and reads
/// them from a signalfd on its own thread. Neither copyable nor movable (owns a thread).
class interrupt_watcher {
 public:
  interrupt_watcher();
  interrupt_watcher(const interrupt_watcher&) = delete;
  interrupt_watcher& operator=(const interrupt_watcher&) = delete;
  /// Ends and joins the thread; the signals stay blocked (the command is about to exit).
  ~interrupt_watcher();

  [[nodiscard]] std::stop_token token() const noexcept { return source_.get_token(); }

 private:
  detail::unique_fd signals_;   ///< signalfd for SIGINT and SIGTERM
  detail::unique_fd shutdown_;  ///< eventfd the destructor writes to end the thread
  std::stop_source source_;
  std::thread thread_;
};

}  // namespace kernelgate::cli

#endif
