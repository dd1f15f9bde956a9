#include "detail/process.hpp"

#include "kernelgate/error.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

extern char** environ;

namespace kernelgate::detail {

unique_fd& unique_fd::operator=(unique_fd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

int unique_fd::release() noexcept { return std::exchange(fd_, -1); }

void unique_fd::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

namespace {

// glibc 2.36's <sys/pidfd.h> lacks C linkage for C++, so the system call is made directly.
int open_pidfd(pid_t pid) noexcept {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  return -1;
#endif
}

struct pipe_pair {
  unique_fd read, write;
};

pipe_pair make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw error(errc::launch_failed, std::string("cannot create a pipe: ") + std::strerror(errno));
  return {unique_fd(fds[0]), unique_fd(fds[1])};
}

exit_status decode_status(int status) noexcept {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

std::string join_command(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    if (!s.empty()) s += ' ';
    s += a;
  }
  return s;
}

// posix_spawn attributes and file actions with RAII, so every error path frees them.
struct spawn_setup {
  posix_spawnattr_t attr{};
  posix_spawn_file_actions_t actions{};
  spawn_setup() {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
  }
  ~spawn_setup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  spawn_setup(const spawn_setup&) = delete;
  spawn_setup& operator=(const spawn_setup&) = delete;
};

}  // namespace

child_process child_process::spawn(const process_options& options) {
  if (options.argv.empty()) throw error(errc::invalid_argument, "cannot start a process: empty command line");
  const std::string command = join_command(options.argv);

  spawn_setup setup;
  // The child starts with default signal dispositions and an empty mask, whatever the parent set.
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&setup.attr, &all);
  posix_spawnattr_setsigmask(&setup.attr, &none);
  short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
  if (options.new_process_group) flags |= POSIX_SPAWN_SETSID;
  posix_spawnattr_setflags(&setup.attr, flags);

  child_process child;
  pipe_pair in, out, err;
  auto connect = [&](stdio mode, int target, pipe_pair& p, bool child_reads) {
    switch (mode) {
      case stdio::inherit: break;
      case stdio::null:
        posix_spawn_file_actions_addopen(&setup.actions, target, "/dev/null", child_reads ? O_RDONLY : O_WRONLY, 0);
        break;
      case stdio::pipe:
        p = make_pipe();
        posix_spawn_file_actions_adddup2(&setup.actions, child_reads ? p.read.get() : p.write.get(), target);
        break;
    }
  };
  connect(options.in, STDIN_FILENO, in, true);
  connect(options.out, STDOUT_FILENO, out, false);
  if (options.merge_stderr && options.out == stdio::pipe)
    posix_spawn_file_actions_adddup2(&setup.actions, STDOUT_FILENO, STDERR_FILENO);
  else
    connect(options.err, STDERR_FILENO, err, false);
  if (!options.cwd.empty()) posix_spawn_file_actions_addchdir_np(&setup.actions, options.cwd.c_str());

  std::vector<char*> argv;
  for (const auto& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  std::vector<char*> envp;
  if (options.env) {
    for (const auto& [k, v] : *options.env) env_strings.push_back(k + "=" + v);
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
  }

  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, argv[0], &setup.actions, &setup.attr, argv.data(),
                                options.env ? envp.data() : environ);
  if (rc != 0) {
    std::string why = std::strerror(rc);
    if (rc == ENOENT && !options.cwd.empty() && !std::filesystem::is_directory(options.cwd))
      why = "working directory " + options.cwd.string() + " does not exist";
    else if (rc == ENOENT)
      why = "program not found (is " + options.argv[0] + " installed and on PATH?)";
    throw error(errc::launch_failed, "cannot start `" + command + "`: " + why);
  }
  child.pid_ = pid;
  child.group_ = options.new_process_group;
  child.pidfd_.reset(open_pidfd(pid));
  child.in_ = std::move(in.write);
  child.out_ = std::move(out.read);
  child.err_ = std::move(err.read);
  return child;
}

child_process::child_process(child_process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      group_(other.group_),
      status_(other.status_),
      pidfd_(std::move(other.pidfd_)),
      in_(std::move(other.in_)),
      out_(std::move(other.out_)),
      err_(std::move(other.err_)) {}

child_process& child_process::operator=(child_process&& other) noexcept {
  if (this != &other) {
    release_all();
    pid_ = std::exchange(other.pid_, -1);
    group_ = other.group_;
    status_ = other.status_;
    pidfd_ = std::move(other.pidfd_);
    in_ = std::move(other.in_);
    out_ = std::move(other.out_);
    err_ = std::move(other.err_);
  }
  return *this;
}

child_process::~child_process() { release_all(); }

void child_process::release_all() noexcept {
  if (pid_ > 0 && !status_) kill_and_reap();
  else if (pid_ > 0 && group_) ::killpg(pid_, SIGKILL);  // stray descendants of an exited child
  pid_ = -1;
  status_.reset();
  pidfd_.reset();
  in_.reset();
  out_.reset();
  err_.reset();
}

std::optional<exit_status> child_process::try_wait() noexcept {
  if (status_ || pid_ <= 0) return status_;
  int status = 0;
  pid_t r;
  do r = ::waitpid(pid_, &status, WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r == pid_) status_ = decode_status(status);
  else if (r < 0) status_ = 255;  // not our child any more (reaped elsewhere): treat as gone
  return status_;
}

std::optional<exit_status> child_process::wait_for(std::chrono::milliseconds timeout) noexcept {
  if (auto s = try_wait()) return s;
  if (pidfd_) {
    if (wait_readable(pidfd_.get(), timeout)) return try_wait();
    return try_wait();
  }
  // No pidfd (very old kernels): short polls until the deadline.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto s = try_wait()) return s;
    ::poll(nullptr, 0, 5);
  }
  return try_wait();
}

void child_process::signal(int sig) noexcept {
  if (pid_ > 0 && !status_) ::kill(pid_, sig);
}

void child_process::signal_group(int sig) noexcept {
  if (pid_ <= 0) return;
  if (group_) ::killpg(pid_, sig);
  else if (!status_) ::kill(pid_, sig);
}

exit_status child_process::kill_and_reap() noexcept {
  if (pid_ <= 0) return status_.value_or(255);
  signal_group(SIGKILL);
  signal(SIGKILL);
  if (!status_) {
    int status = 0;
    pid_t r;
    do r = ::waitpid(pid_, &status, 0);
    while (r < 0 && errno == EINTR);
    status_ = r == pid_ ? decode_status(status) : 128 + SIGKILL;
  }
  return *status_;
}

void child_process::detach() noexcept {
  pid_ = -1;
  release_all();
}

bool wait_readable(int fd, std::chrono::milliseconds timeout) noexcept {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() < 0) left = std::chrono::milliseconds(0);
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

std::filesystem::path find_program(const std::string& name) {
  if (name.empty()) return {};
  if (name.find('/') != std::string::npos)
    return ::access(name.c_str(), X_OK) == 0 ? std::filesystem::path(name) : std::filesystem::path();
  const char* path = std::getenv("PATH");
  std::string_view rest = path ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!rest.empty()) {
    const auto colon = rest.find(':');
    const std::string dir(rest.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
    const auto candidate = std::filesystem::path(dir.empty() ? "." : dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0 && !std::filesystem::is_directory(candidate)) return candidate;
  }
  return {};
}

std::map<std::string, std::string> current_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    const auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

}  // namespace kernelgate::detail
