#ifndef KERNELGATE_SRC_EXEC_SESSION_EXECUTOR_HPP
#define KERNELGATE_SRC_EXEC_SESSION_EXECUTOR_HPP

// The code_executor over a stateful kernel session, written once for every kernel backend: the
// ZeroMQ kernel_session (make_kernel_executor) and the gateway_session (make_gateway_executor).
// Blocks, languages, output text, timeouts, cancellation and kernel death behave the same on both.

#include "kernelgate/client/kernel_client.hpp"
#include "kernelgate/exec/code_executor.hpp"
#include "kernelgate/kernel/kernel_session.hpp"

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace kernelgate::detail {

/// The session operations the executor needs, whichever way the kernel is reached.
class executor_session {
 public:
  executor_session() = default;
  executor_session(const executor_session&) = delete;
  executor_session& operator=(const executor_session&) = delete;
  virtual ~executor_session() = default;

  virtual run_result execute(const std::string& code, const run_options& options) = 0;
  virtual void interrupt() = 0;
  virtual void restart() = 0;
  virtual void shutdown() noexcept = 0;
  [[nodiscard]] virtual const kernel_info_reply& info() const = 0;
  [[nodiscard]] virtual const std::string& kernel_name() const = 0;
  [[nodiscard]] virtual bool owned() const = 0;
};

/// Any session type with kernel_session's members, as an executor_session.
template <class Session>
class session_holder final : public executor_session {
 public:
  explicit session_holder(Session s) : s_(std::move(s)) {}
  run_result execute(const std::string& code, const run_options& options) override { return s_.execute(code, options); }
  void interrupt() override { s_.interrupt(); }
  void restart() override { s_.restart(); }
  void shutdown() noexcept override { s_.shutdown(); }
  const kernel_info_reply& info() const override { return s_.info(); }
  const std::string& kernel_name() const override { return s_.kernel_name(); }
  bool owned() const override { return s_.owned(); }

 private:
  Session s_;
};

struct session_executor_config {
  backend kind = backend::kernel;
  std::string name;                      ///< "kernel executor", for messages
  std::chrono::milliseconds timeout{60'000};
  std::chrono::milliseconds interrupt_grace{5'000};
  std::size_t max_output_bytes = std::size_t{1} << 20;
  std::filesystem::path work_dir;        ///< files the code writes here are listed in output_files
  bool owns_work_dir = false;            ///< stop() removes work_dir
};

/// Starts the session through `start` and wraps it. On failure removes an owned work_dir and rethrows.
/// @throws kernelgate::error(errc::invalid_argument) for a non-positive timeout; what `start` throws.
[[nodiscard]] std::unique_ptr<code_executor> make_session_executor(
    session_executor_config config, const std::function<std::unique_ptr<executor_session>()>& start);


}  // namespace kernelgate::detail

#endif
