#include "kernelgate/exec/local_executor.hpp"

#include "detail/files.hpp"

#include "detail/process.hpp"
#include "exec/run_blocks.hpp"
#include "kernelgate/error.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <limits>
#include <optional>
#include <stop_token>

namespace kernelgate {

namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

void set_nonblocking(int fd) noexcept {
  if (fd < 0) return;
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// Reads what one pipe has now: one read, or (draining after the block ended) until it is empty,
// at most 16 reads so that a writer that escaped the process group cannot keep us here.
// Returns false at end of file (or a read error).
bool read_available(int fd, std::string_view name, detail::output_collector& out, bool until_empty) {
  char buf[65536];
  for (int reads = 0; reads < 16; ++reads) {
    const auto r = ::read(fd, buf, sizeof buf);
    if (r > 0) {
      out.append(name, std::string_view(buf, static_cast<std::size_t>(r)));
      if (!until_empty) return true;
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return false;
  }
  return true;
}

class local_executor final : public code_executor {
 public:
  // Owns a temporary directory and an eventfd: neither copyable nor movable (held by unique_ptr).
  explicit local_executor(local_executor_options options)
      : timeout_(options.timeout), max_output_(options.max_output_bytes) {
    if (timeout_.count() <= 0)
      throw error(errc::invalid_argument, "local executor: timeout must be positive, got " +
                                              std::to_string(timeout_.count()) + " ms");
    fs::path python = options.python;
    if (!options.virtual_env.empty()) {
      python = options.virtual_env / "bin" / "python";
      if (::access(python.c_str(), X_OK) != 0)
        throw error(errc::invalid_argument, "local executor: virtual_env " + options.virtual_env.string() +
                                                " has no executable bin/python (create it with `python3 -m venv DIR`)");
    }
    const fs::path python_path = detail::find_program(python.string());
    if (python_path.empty())
      throw error(errc::invalid_argument, "local executor: python interpreter " + python.string() +
                                              " is not an executable file (set local_executor_options::python)");
    // Blocks run in the work directory: a relative interpreter path must not be read from there.
    table_["python"] = {fs::absolute(python_path).string()};
    for (const char* shell : {"bash", "sh"}) {
      if (auto p = detail::find_program(shell); !p.empty()) table_[shell] = {p.string()};
    }
    for (const char* ps : {"pwsh", "powershell"}) {
      if (auto p = detail::find_program(ps); !p.empty()) {
        table_["pwsh"] = {p.string(), "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-File"};
        break;
      }
    }
    if (auto node = detail::find_program("node"); !node.empty()) table_["javascript"] = {node.string()};

    if (options.inherit_env) env_ = detail::current_environment();
    if (!options.virtual_env.empty()) {
      const fs::path venv = fs::absolute(options.virtual_env);
      const auto path = env_.find("PATH");
      env_["PATH"] = (venv / "bin").string() + (path != env_.end() ? ":" + path->second : std::string());
      env_["VIRTUAL_ENV"] = venv.string();
      env_.erase("PYTHONHOME");
    }
    for (const auto& [k, v] : options.env) env_[k] = v;
    env_.try_emplace("PYTHONUNBUFFERED", "1");

    if (options.work_dir.empty()) {
      work_dir_ = detail::make_temp_work_dir("local");
      owns_work_dir_ = true;
    } else {
      std::error_code ec;
      fs::create_directories(options.work_dir, ec);
      if (ec || !fs::is_directory(options.work_dir))
        throw error(errc::io_error, "local executor: cannot create work directory " + options.work_dir.string() +
                                        ": " + (ec ? ec.message() : "not a directory"));
      work_dir_ = fs::canonical(options.work_dir);
    }
    wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!wake_) throw error(errc::io_error, std::string("local executor: eventfd failed: ") + std::strerror(errno));
  }
  local_executor(const local_executor&) = delete;
  local_executor& operator=(const local_executor&) = delete;
  ~local_executor() override { stop_impl(); }

 private:
  code_result execute_impl(std::span<const code_block> blocks, const execute_options& options) override {
    if (stopped_)
      throw error(errc::not_connected, "local executor was stopped; create a new one to run code");
    const milliseconds timeout = options.timeout.value_or(timeout_);
    if (timeout.count() <= 0)
      throw error(errc::invalid_argument, "execute: timeout must be positive, got " + std::to_string(timeout.count()) + " ms");

    std::uint64_t drained = 0;
    while (::read(wake_.get(), &drained, sizeof drained) > 0) {
    }
    const int wake = wake_.get();
    std::optional<std::stop_callback<std::function<void()>>> on_stop;
    if (options.stop.stop_possible()) {
      on_stop.emplace(options.stop, std::function<void()>([wake] {
                        const std::uint64_t one = 1;
                        [[maybe_unused]] const auto w = ::write(wake, &one, sizeof one);
                      }));
    }
    const detail::run_settings settings{.workspace = work_dir_,
                                        .table = &table_,
                                        .timeout = timeout,
                                        .max_output_bytes = max_output_,
                                        .handler = &handler_for(options),
                                        .stop = options.stop};
    return detail::run_blocks(blocks, settings, [this](const detail::prepared_block& block, milliseconds t,
                                                       detail::output_collector& out) { return run(block.argv, t, out); });
  }

  // Runs one command in the work directory: one poll loop over both pipes, the pidfd and the wake
  // eventfd, bounded by the deadline.
  detail::block_outcome run(const std::vector<std::string>& argv, milliseconds timeout, detail::output_collector& out) {
    // A century stands for "no deadline" and keeps the clock arithmetic from overflowing.
    const auto deadline = steady_clock::now() + std::min(timeout, milliseconds(std::chrono::hours(24 * 365 * 100)));
    auto child = detail::child_process::spawn(
        {.argv = argv, .cwd = work_dir_, .env = env_, .in = detail::stdio::null});
    set_nonblocking(child.stdout_fd());
    set_nonblocking(child.stderr_fd());
    std::array<pollfd, 4> fds{{{child.stdout_fd(), POLLIN, 0},
                               {child.stderr_fd(), POLLIN, 0},
                               {child.exit_fd(), POLLIN, 0},
                               {wake_.get(), POLLIN, 0}}};
    static constexpr std::array<std::string_view, 2> names = {"stdout", "stderr"};
    const bool has_pidfd = child.exit_fd() >= 0;

    detail::block_outcome outcome;
    bool exited = false;
    while (!exited) {
      const auto left = std::chrono::ceil<milliseconds>(deadline - steady_clock::now());
      if (left.count() <= 0) {
        outcome.end = detail::block_end::timed_out;
        break;
      }
      // Without a pidfd (kernels before 5.3) the exit is noticed by checking at short intervals.
      const long long cap = has_pidfd ? std::numeric_limits<int>::max() : 10;
      const int wait_ms = static_cast<int>(std::min<long long>(left.count(), cap));
      const int r = ::poll(fds.data(), fds.size(), wait_ms);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throw error(errc::io_error, std::string("local executor: poll failed: ") + std::strerror(errno));
      if (fds[3].revents != 0) {
        outcome.end = detail::block_end::cancelled;
        break;
      }
      for (std::size_t i = 0; i < 2; ++i) {
        if (fds[i].revents == 0) continue;
        if (!read_available(fds[i].fd, names[i], out, false)) fds[i].fd = -1;
      }
      exited = has_pidfd ? fds[2].revents != 0 : child.try_wait().has_value();
    }
    if (exited) {
      // Whatever the block left behind in its group goes with it; then read what is buffered.
      child.signal_group(SIGKILL);
      const auto status = child.try_wait();
      outcome.status = status ? *status : child.kill_and_reap();
    } else {
      child.kill_and_reap();
    }
    for (std::size_t i = 0; i < 2; ++i) {
      if (fds[i].fd >= 0) read_available(fds[i].fd, names[i], out, true);
    }
    return outcome;
  }

  void restart_impl() override {}

  void stop_impl() noexcept override {
    if (stopped_) return;
    stopped_ = true;
    if (owns_work_dir_) {
      std::error_code ec;
      fs::remove_all(work_dir_, ec);
    }
  }

  backend kind_impl() const noexcept override { return backend::local; }

  milliseconds timeout_;
  std::size_t max_output_;
  detail::interpreter_table table_;
  std::map<std::string, std::string> env_;
  fs::path work_dir_;
  bool owns_work_dir_ = false;
  bool stopped_ = false;
  detail::unique_fd wake_;
};

}  // namespace

std::unique_ptr<code_executor> make_local_executor(local_executor_options options) {
  return std::make_unique<local_executor>(std::move(options));
}

}  // namespace kernelgate
