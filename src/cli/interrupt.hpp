#ifndef KERNELGATE_CLI_INTERRUPT_HPP
#define KERNELGATE_CLI_INTERRUPT_HPP

#include <signal.h>

#include <stop_token>
#include <thread>

namespace kernelgate::cli {

/// Turns SIGINT and SIGTERM into a stop request, so Ctrl-C cancels the running block (exit 130)
/// instead of killing the command and leaving a child behind. Construct it before any other
/// thread starts: it blocks the signals for the whole process and waits for them on its own thread.
/// Neither copyable nor movable (owns a thread).
class interrupt_watcher {
 public:
  interrupt_watcher();
  interrupt_watcher(const interrupt_watcher&) = delete;
  interrupt_watcher& operator=(const interrupt_watcher&) = delete;
  ~interrupt_watcher();

  [[nodiscard]] std::stop_token token() const noexcept { return source_.get_token(); }

 private:
  sigset_t signals_{};
  std::stop_source source_;
  std::thread thread_;
};

}  // namespace kernelgate::cli

#endif
