#include "kernelgate/kernel/kernel_session.hpp"

#include "client/timed_run.hpp"

#include "kernel/kernel_process.hpp"
#include "kernelgate/kernel/connection_file.hpp"
#include "transport/zmq/zmq_transport.hpp"

#include <signal.h>

#include <algorithm>
#include <mutex>

namespace kernelgate {

using namespace std::chrono_literals;

namespace {

// Start-up failures that deserve a retry with fresh ports: another process took one of them
// between our choice and the kernel's bind.
bool lost_port_race(const std::string& output) {
  return output.find("Address already in use") != std::string::npos ||
         output.find("EADDRINUSE") != std::string::npos;
}

std::string describe_status(int status) {
  if (status > 128 && status < 128 + 65)
    return "was killed by signal " + std::to_string(status - 128) + (status - 128 == SIGKILL ? " (SIGKILL)" : "");
  return "exited with status " + std::to_string(status);
}

std::filesystem::path absolute_dir(const std::filesystem::path& p, const char* what) {
  std::error_code ec;
  const auto abs = std::filesystem::absolute(p.empty() ? std::filesystem::current_path() : p, ec);
  if (ec) throw error(errc::invalid_argument, std::string("bad ") + what + " " + p.string() + ": " + ec.message());
  std::filesystem::create_directories(abs, ec);
  if (ec || !std::filesystem::is_directory(abs))
    throw error(errc::io_error, std::string("cannot use ") + what + " " + abs.string() + ": " +
                                    (ec ? ec.message() : "not a directory") + " (pass a writable directory)");
  return abs;
}

}  // namespace

struct kernel_session::impl {
  bool owned = false;
  kernelspec spec;
  std::string name;
  connection_info info;
  std::filesystem::path conn_file;
  std::filesystem::path work_dir, output_dir;
  std::map<std::string, std::string> env;
  std::chrono::milliseconds startup_timeout{60000};
  std::chrono::milliseconds heartbeat_interval{1000};
  std::function<void(const error&)> on_error;

  std::unique_ptr<detail::kernel_process> process;
  detail::zmq_transport* transport = nullptr;  // owned by client
  std::unique_ptr<kernel_client> client;
  kernel_info_reply ready_info;
  bool shut = false;
  std::mutex process_mutex;  // interrupt() may come from another thread than restart()

  ~impl() { shutdown(); }

  [[nodiscard]] std::string launch_description() const {
    std::string cmd;
    for (const auto& a : spec.expand_argv(conn_file)) cmd += (cmd.empty() ? "" : " ") + a;
    return "kernel '" + spec.name + "' (`" + cmd + "`)";
  }

  void make_client(bool heartbeat) {
    detail::zmq_transport_options to;
    to.connection = info;
    kernel_client_options co;
    to.identity = co.identity.session;
    to.heartbeat_interval = heartbeat_interval;
    to.heartbeat = heartbeat;
    // An owned kernel's death is seen at once through its pidfd; the heartbeat then only has to catch
    // a wedged process, so it is lenient, and a kernel starved of CPU on a busy machine is not
    // declared dead. An attached kernel has only the heartbeat.
    to.heartbeat_misses = owned ? 10 : 3;
    co.on_error = on_error;
    auto t = detail::zmq_transport::make(std::move(to));
    transport = t.get();
    if (process) transport->watch({process->exit_fd(), false, process->name()});
    client = std::make_unique<kernel_client>(std::move(t), std::move(co));
  }

  // Launches the process for the current connection and waits until it is ready.
  // Throws launch_failed; sets `port_race` when the kernel lost a port to another process.
  void launch_and_wait(bool new_client, bool& port_race) {
    port_race = false;
    {
      std::lock_guard lk(process_mutex);
      process = detail::kernel_process::launch(spec, conn_file, work_dir, env);
    }
    if (new_client)
      make_client(false);
    else
      transport->watch({process->exit_fd(), false, process->name()});
    client->reset_liveness();
    try {
      ready_info = client->wait_for_ready(startup_timeout);
    } catch (const error& e) {
      if (e.condition() != errc::kernel_died && e.condition() != errc::timeout) throw;
      std::string what;
      std::lock_guard lk(process_mutex);
      if (const auto st = process->exited()) {
        what = describe_status(*st) + " during start-up";
      } else {
        what = "was not ready within " + std::to_string(startup_timeout.count()) + " ms (" + e.what() + ")";
        process->terminate(500ms);
      }
      const std::string tail = process->output_tail_text();
      port_race = lost_port_race(tail);
      process.reset();
      throw error(errc::launch_failed, launch_description() + " " + what +
                                           (tail.empty() ? std::string("; it printed nothing")
                                                         : "; its output ends with:\n" + tail) +
                                           "\n(check that the kernelspec's interpreter has the kernel package installed)");
    }
    // Ready: from now on a silent heartbeat also means death.
    transport->watch({process->exit_fd(), true, process->name()});
  }

  void start() {
    constexpr int attempts = 3;
    for (int attempt = 1;; ++attempt) {
      info = make_local_connection_info(spec.name);
      conn_file = jupyter_runtime_dir() / ("kernel-" + session_identity::new_session_id() + ".json");
      write_connection_file(conn_file, info);
      bool race = false;
      try {
        launch_and_wait(true, race);
        return;
      } catch (const error&) {
        client.reset();
        transport = nullptr;
        std::error_code ec;
        std::filesystem::remove(conn_file, ec);
        if (!race || attempt == attempts) throw;
      }
    }
  }

  [[nodiscard]] std::string death_message(const std::string& reason) {
    std::string msg = "the kernel died";
    if (process) {
      std::lock_guard lk(process_mutex);
      if (const auto st = process->exited()) {
        msg = process->name() + " " + describe_status(*st);
        const std::string tail = process->output_tail_text();
        if (!tail.empty()) msg += "; its output ends with:\n" + tail;
        return msg + "\n(the session restarts it on restart(); state is lost)";
      }
    }
    return msg + ": " + reason + " (restart the session; state is lost)";
  }

  void interrupt() {
    if (shut || !client) throw error(errc::not_connected, "the kernel session is shut down");
    {
      std::lock_guard lk(process_mutex);
      if (process && spec.interrupt == interrupt_mode::signal) {
        process->signal_group(SIGINT);
        return;
      }
    }
    try {
      (void)client->interrupt(2s);
    } catch (const error& e) {
      if (e.condition() != errc::timeout) throw;  // kernels need not reply; the request is sent
    }
  }

  void stop_process(bool restart) noexcept {
    if (!process) return;
    if (transport) transport->watch({-1, false, {}});
    if (!process->exited()) {
      try {
        if (client && client->alive()) client->shutdown(restart, 2s);
      } catch (const error&) {  // no reply: escalate below
      }
      if (!process->wait_for(2500ms)) process->terminate(2500ms);
    }
    std::lock_guard lk(process_mutex);
    process.reset();
  }

  void restart() {
    if (shut || !client) throw error(errc::not_connected, "the kernel session is shut down");
    if (!owned)
      throw error(errc::invalid_argument,
                  "cannot restart an attached kernel: its owner (the process that started it) must restart it");
    stop_process(true);
    bool race = false;
    launch_and_wait(false, race);
  }

  void shutdown() noexcept {
    if (shut) return;
    shut = true;
    if (owned) stop_process(false);
    if (client) client->close();
    client.reset();
    transport = nullptr;
    if (owned && !conn_file.empty()) {
      std::error_code ec;
      std::filesystem::remove(conn_file, ec);
    }
  }
};

kernel_session::kernel_session(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
kernel_session::kernel_session(kernel_session&&) noexcept = default;
kernel_session& kernel_session::operator=(kernel_session&&) noexcept = default;
kernel_session::~kernel_session() = default;

kernel_session kernel_session::start(kernel_start_options options) {
  auto p = std::make_unique<impl>();
  p->owned = true;
  p->spec = find_kernelspec(options.kernel);
  // Unless the caller sets the pause: traitlets refuses a setting given twice on the command line.
  const bool caller_sets_pause =
      std::any_of(options.extra_arguments.begin(), options.extra_arguments.end(),
                  [](const std::string& a) { return a.find("_execute_sleep") != std::string::npos; });
  if (!options.ipython_reply_pause && !caller_sets_pause && p->spec.runs_ipykernel())
    p->spec.argv.push_back("--Kernel._execute_sleep=0");
  p->spec.argv.insert(p->spec.argv.end(), options.extra_arguments.begin(), options.extra_arguments.end());
  p->name = p->spec.name;
  p->work_dir = absolute_dir(options.work_dir, "work directory");
  p->output_dir = options.output_dir ? absolute_dir(*options.output_dir, "output directory") : p->work_dir;
  p->env = std::move(options.env);
  p->startup_timeout = options.startup_timeout;
  p->heartbeat_interval = options.heartbeat_interval;
  p->on_error = std::move(options.on_error);
  p->start();
  return kernel_session(std::move(p));
}

kernel_session kernel_session::attach(kernel_attach_options options) {
  auto p = std::make_unique<impl>();
  p->owned = false;
  p->info = read_connection_file(options.connection_file);
  p->name = p->info.kernel_name;
  p->conn_file = options.connection_file;
  p->output_dir = absolute_dir(options.output_dir.value_or(std::filesystem::path()), "output directory");
  p->work_dir = p->output_dir;
  p->heartbeat_interval = options.heartbeat_interval;
  p->on_error = std::move(options.on_error);
  p->make_client(true);
  try {
    p->ready_info = p->client->wait_for_ready(options.ready_timeout);
  } catch (const error& e) {
    throw error(e.condition(), "cannot attach to the kernel of " + options.connection_file.string() + " (" +
                                   p->info.describe() + "): " + e.what() + " (is the kernel still running?)");
  }
  return kernel_session(std::move(p));
}

run_result kernel_session::execute(const std::string& code, const run_options& options) {
  auto& s = *impl_;
  if (s.shut || !s.client) throw error(errc::not_connected, "the kernel session is shut down; start a new one");
  if (!s.client->alive()) throw error(errc::kernel_died, s.death_message(s.client->death_reason()));
  try {
    return detail::timed_run(*s.client, code, options, s.output_dir,
                             {.interrupt = [&s] { s.interrupt(); },
                              .restart = s.owned ? std::function<void()>([&s] { s.restart(); }) : nullptr});
  } catch (const error& e) {
    if (e.condition() == errc::kernel_died) throw error(errc::kernel_died, s.death_message(e.what()));
    throw;
  }
}

void kernel_session::interrupt() { impl_->interrupt(); }
void kernel_session::restart() { impl_->restart(); }
void kernel_session::shutdown() noexcept {
  if (impl_) impl_->shutdown();
}

kernel_client& kernel_session::client() {
  if (!impl_->client) throw error(errc::not_connected, "the kernel session is shut down");
  return *impl_->client;
}
const kernel_info_reply& kernel_session::info() const { return impl_->ready_info; }
const std::string& kernel_session::kernel_name() const { return impl_->name; }
const std::filesystem::path& kernel_session::connection_file() const { return impl_->conn_file; }
int kernel_session::pid() const { return impl_->process ? impl_->process->pid() : 0; }
bool kernel_session::owned() const { return impl_->owned; }
bool kernel_session::alive() const { return impl_->client && !impl_->shut && impl_->client->alive(); }

}  // namespace kernelgate
