#include "kernel/kernel_process.hpp"

#include "kernelgate/error.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kernelgate::detail {

// ---- output_tail -------------------------------------------------------------------------------

output_tail::output_tail(unique_fd pipe, std::size_t capacity)
    : pipe_(std::move(pipe)), stop_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)), capacity_(capacity) {
  if (!stop_) throw error(errc::launch_failed, std::string("cannot create an eventfd: ") + std::strerror(errno));
  thread_ = std::thread([this] { run(); });
}

output_tail::~output_tail() {
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(stop_.get(), &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

void output_tail::run() {
  char buf[4096];
  for (;;) {
    pollfd fds[2] = {{pipe_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    const int r = ::poll(fds, 2, -1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 || (fds[1].revents & POLLIN)) break;
    const ssize_t n = ::read(pipe_.get(), buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;  // EOF: every writer (the kernel and its children) closed the pipe
    std::lock_guard lk(mutex_);
    buffer_.append(buf, static_cast<std::size_t>(n));
    if (buffer_.size() > 2 * capacity_) buffer_.erase(0, buffer_.size() - capacity_);
  }
  std::lock_guard lk(mutex_);
  eof_ = true;
  eof_cv_.notify_all();
}

std::string output_tail::text() const {
  std::lock_guard lk(mutex_);
  std::string s = buffer_.size() > capacity_ ? buffer_.substr(buffer_.size() - capacity_) : buffer_;
  if (buffer_.size() > capacity_)
    if (const auto nl = s.find('\n'); nl != std::string::npos) s.erase(0, nl + 1);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

void output_tail::wait_eof(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mutex_);
  eof_cv_.wait_for(lk, timeout, [&] { return eof_; });
}

// ---- kernel_process ----------------------------------------------------------------------------

kernel_process::kernel_process(child_process child, std::string spec_name, std::string command)
    : child_(std::move(child)), spec_name_(std::move(spec_name)), command_(std::move(command)) {
  tail_ = std::make_unique<output_tail>(child_.take_stdout(), 4096);
}

kernel_process::~kernel_process() {
  child_.kill_and_reap();
  tail_.reset();
}

std::unique_ptr<kernel_process> kernel_process::launch(const kernelspec& spec, const std::filesystem::path& connection_file,
                                                       const std::filesystem::path& work_dir,
                                                       const std::map<std::string, std::string>& extra_env) {
  auto env = current_environment();
  for (const auto& [k, v] : extra_env) env[k] = v;
  env = spec.expand_env(env);
  env["JPY_PARENT_PID"] = std::to_string(::getpid());
  env.erase("PYTHONEXECUTABLE");  // as jupyter_client: it would confuse the kernel's sys.executable

  process_options po;
  po.argv = spec.expand_argv(connection_file);
  po.cwd = work_dir;
  po.env = std::move(env);
  po.in = stdio::null;
  po.out = stdio::pipe;
  po.merge_stderr = true;
  po.new_process_group = true;
  std::string command;
  for (const auto& a : po.argv) command += (command.empty() ? "" : " ") + a;
  try {
    auto child = child_process::spawn(po);
    return std::unique_ptr<kernel_process>(new kernel_process(std::move(child), spec.name, command));
  } catch (const error& e) {
    throw error(errc::launch_failed, "cannot start kernel '" + spec.name + "' (" + spec.resource_dir.string() +
                                         "/kernel.json): " + e.what());
  }
}

std::string kernel_process::name() const {
  return "kernel " + spec_name_ + " (pid " + std::to_string(child_.pid()) + ")";
}

std::string kernel_process::output_tail_text() {
  if (child_.try_wait()) tail_->wait_eof(std::chrono::milliseconds(500));
  return tail_->text();
}

exit_status kernel_process::terminate(std::chrono::milliseconds grace) noexcept {
  if (auto s = child_.try_wait()) {
    child_.signal_group(SIGKILL);  // descendants the kernel left behind
    return *s;
  }
  child_.signal_group(SIGTERM);
  if (auto s = child_.wait_for(grace)) {
    child_.signal_group(SIGKILL);
    return *s;
  }
  return child_.kill_and_reap();
}

}  // namespace kernelgate::detail
