#include "kernelgate/exec/docker_executor.hpp"

#include "detail/files.hpp"

#include "detail/process.hpp"
#include "docker/block_runner.hpp"
#include "docker/protocol.hpp"
#include "exec/run_blocks.hpp"
#include "kernelgate/docker/client.hpp"
#include "kernelgate/error.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

namespace kernelgate {

namespace {

namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Labels that identify kernelgate's containers and the process that owns them.
constexpr const char* label_executor = "io.kernelgate.executor";
constexpr const char* label_pid = "io.kernelgate.owner-pid";
constexpr const char* label_pid_start = "io.kernelgate.owner-start";
constexpr const char* label_host = "io.kernelgate.owner-host";

constexpr const char* workspace = "/workspace";
// Where a running block's process-group id is kept, so another exec can signal the group.
constexpr const char* pid_file = "/tmp/.kernelgate-block.pid";
// In-container: after the deadline, `timeout` sends TERM to the group, KILL this much later.
constexpr auto kill_after = 1s;
// Host side: how long past the in-container deadline before we kill the group ourselves.
constexpr auto host_margin = 2s;
// How long a killed block gets to deliver its last output and end its stream.
constexpr auto drain_time = 2s;
constexpr const char* build_hint_text =
    "Pull it where a registry is reachable, or build it locally; kernelgate's own test image "
    "(kernelgate-test:bookworm) is built by scripts/build-test-image in kernelgate's source tree.";

std::string hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

// The start time of a process (clock ticks since boot, field 22 of /proc/<pid>/stat): with the
// pid it names a process uniquely, even after the pid is reused.
std::string process_start_time(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && (rest >> field); ++i) {
    if (i == 22) return field;
  }
  return {};
}

std::string random_hex(std::size_t n) {
  static constexpr char hex[] = "0123456789abcdef";
  std::random_device rd;
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += hex[rd() % 16];
  return out;
}

detail::interpreter_table interpreters_of(const docker_executor_options& o) {
  if (!o.interpreters.empty()) return o.interpreters;
  return {{"python", {"python3"}}, {"bash", {"bash"}}, {"sh", {"sh"}}, {"pwsh", {"pwsh"}}, {"javascript", {"node"}}};
}

void validate(const docker_executor_options& o, const std::string& socket_path) {
  if (o.timeout <= 0ms) throw error(errc::invalid_argument, "docker executor timeout must be positive");
  if (o.image.empty()) throw error(errc::invalid_argument, "docker executor needs an image name");
  if (o.memory_bytes < 0 || (o.memory_bytes > 0 && o.memory_bytes < (std::int64_t{6} << 20))) {
    throw error(errc::invalid_argument, "docker executor memory limit " + std::to_string(o.memory_bytes) +
                                            " bytes: use 0 (unlimited) or at least 6 MiB, Docker's minimum");
  }
  if (o.pids_limit < 0) throw error(errc::invalid_argument, "docker executor pids_limit must be >= 0 (0: unlimited)");
  if (o.cpus < 0 || !std::isfinite(o.cpus)) throw error(errc::invalid_argument, "docker executor cpus must be >= 0");
  std::error_code ec;
  const auto sock = socket_path.empty() ? fs::path() : fs::weakly_canonical(socket_path, ec);
  for (const auto& v : o.extra_volumes) {
    const auto name = v.host.string() + ":" + v.container;
    if (!v.host.is_absolute() || !fs::exists(v.host, ec)) {
      throw error(errc::invalid_argument, "extra volume " + name + ": the host path must exist and be absolute");
    }
    if (v.container.empty() || v.container.front() != '/' || fs::path(v.container).lexically_normal() == workspace) {
      throw error(errc::invalid_argument,
                  "extra volume " + name + ": the container path must be absolute and not /workspace");
    }
    const auto host = fs::weakly_canonical(v.host, ec);
    const auto rel = sock.lexically_relative(host);
    if (host == "/" || (!sock.empty() && !rel.empty() && *rel.begin() != "..")) {
      throw error(errc::invalid_argument, "extra volume " + name +
                                              " would expose the Docker socket, which gives root on the host; "
                                              "mount a narrower directory");
    }
  }
}

// A bind mount as a Mounts entry rather than a Binds string: any character may appear in the
// path, and a missing source is an error instead of a new root-owned directory.
nlohmann::json bind_mount(const fs::path& host, const std::string& container, bool read_only) {
  return {{"Type", "bind"}, {"Source", host.string()}, {"Target", container}, {"ReadOnly", read_only}};
}

class docker_executor final : public code_executor {
 public:
  explicit docker_executor(docker_executor_options options)
      : options_(std::move(options)), table_(interpreters_of(options_)) {
    validate(options_, docker::detail::socket_path_from_host(docker::detail::resolve_host(options_.docker_host)));
    client_.emplace(docker::client_options{.host = options_.docker_host});
    prepare_work_dir();
    try {
      client_->ensure_image(options_.image, options_.on_pull_progress, build_hint_text);
      create_and_start();
      (void)runner();
    } catch (...) {
      release();
      throw;
    }
  }

  docker_executor(const docker_executor&) = delete;
  docker_executor& operator=(const docker_executor&) = delete;
  ~docker_executor() override { release(); }

 private:
  void prepare_work_dir() {
    std::error_code ec;
    if (options_.work_dir.empty()) {
      work_dir_ = detail::make_temp_work_dir("docker");
      owns_work_dir_ = true;
    } else {
      fs::create_directories(options_.work_dir, ec);
      if (ec || !fs::is_directory(options_.work_dir)) {
        throw error(errc::io_error, "cannot use work directory " + options_.work_dir.string() + ": " +
                                        (ec ? ec.message() : std::string("not a directory")));
      }
      work_dir_ = fs::canonical(options_.work_dir);
    }
  }

  nlohmann::json container_config() const {
    nlohmann::json labels = nlohmann::json::object();
    for (const auto& [k, v] : options_.labels) labels[k] = v;
    labels[label_executor] = "docker";
    labels[label_pid] = std::to_string(::getpid());
    labels[label_pid_start] = process_start_time(::getpid());
    labels[label_host] = hostname();

    std::string user;
    auto env = options_.env;
    if (options_.user) {
      user = *options_.user;
    } else {
      user = std::to_string(::getuid()) + ":" + std::to_string(::getgid());
      if (::getuid() != 0) env.try_emplace("HOME", "/tmp");
    }
    env.try_emplace("PYTHONUNBUFFERED", "1");
    nlohmann::json env_list = nlohmann::json::array();
    for (const auto& [k, v] : env) env_list.push_back(k + "=" + v);

    const auto bind = options_.bind_dir.empty() ? work_dir_ : options_.bind_dir;
    nlohmann::json mounts = nlohmann::json::array();
    mounts.push_back(bind_mount(bind, workspace, false));
    for (const auto& v : options_.extra_volumes) mounts.push_back(bind_mount(v.host, v.container, v.read_only));

    nlohmann::json host{{"Mounts", mounts}, {"NetworkMode", options_.network}, {"Init", options_.init},
                        {"AutoRemove", false}, {"IpcMode", "private"}};
    if (options_.drop_all_capabilities) host["CapDrop"] = {"ALL"};
    if (options_.no_new_privileges) host["SecurityOpt"] = {"no-new-privileges"};
    if (options_.pids_limit > 0) host["PidsLimit"] = options_.pids_limit;
    if (options_.memory_bytes > 0) {
      host["Memory"] = options_.memory_bytes;
      host["MemorySwap"] = options_.memory_bytes;
    }
    if (options_.cpus > 0) host["NanoCpus"] = static_cast<std::int64_t>(std::llround(options_.cpus * 1e9));
    if (options_.read_only_rootfs) {
      host["ReadonlyRootfs"] = true;
      host["Tmpfs"] = {{"/tmp", "rw,nosuid,nodev,size=64m,mode=1777"}};
    }
    // The container only has to stay up; blocks come in through exec. With an init process as
    // PID 1, `tail` dies on the first signal, so stop and restart never wait out a grace period.
    return {{"Image", options_.image},
            {"Entrypoint", {"tail", "-f", "/dev/null"}},
            {"Cmd", nullptr},
            {"WorkingDir", workspace},
            {"User", user},
            {"Env", env_list},
            {"Labels", labels},
            {"Tty", false},
            {"AttachStdin", false},
            {"AttachStdout", false},
            {"AttachStderr", false},
            {"OpenStdin", false},
            {"StopTimeout", 1},
            {"HostConfig", host}};
  }

  void create_and_start() {
    const auto name = options_.container_name.empty() ? "kernelgate-" + std::to_string(::getpid()) + "-" + random_hex(12)
                                                      : options_.container_name;
    container_id_ = client_->create_container(container_config(), name);
    client_->start_container(container_id_);
    const auto info = client_->inspect_container(container_id_);
    const auto state = info ? info->value("State", nlohmann::json::object()) : nlohmann::json::object();
    if (state.value("Status", std::string{}) != "running") {
      throw error(errc::launch_failed, "the container " + name + " from image " + options_.image +
                                           " is not running after start (status '" +
                                           state.value("Status", std::string("gone")) + "', exit code " +
                                           std::to_string(state.value("ExitCode", 0)) + ", error '" +
                                           state.value("Error", std::string{}) +
                                           "'); does the image have tail and sh?");
    }
  }

  // Ends the container and a temporary work directory; never throws.
  void release() noexcept {
    runner_.reset();
    if (!container_id_.empty() && client_) {
      try {
        client_->remove_container(container_id_);
      } catch (...) {
        // The daemon went away: nothing more can be done from here; remove_orphaned_docker_containers
        // finds the container by its labels later.
      }
    }
    container_id_.clear();
    if (owns_work_dir_) {
      std::error_code ec;
      fs::remove_all(work_dir_, ec);
      owns_work_dir_ = false;
    }
  }

  // An exec in the container; a container that stopped or vanished under us is brought back once.
  std::string create_exec(const nlohmann::json& config) {
    try {
      return client_->create_exec(container_id_, config);
    } catch (const error& e) {
      if (e.condition() != errc::docker_api || (e.http_status() != 404 && e.http_status() != 409)) throw;
      if (e.http_status() == 404) {
        create_and_start();
      } else {
        client_->start_container(container_id_);
      }
      return client_->create_exec(container_id_, config);
    }
  }

  // Kills the running block's process group from a second exec.
  void kill_block() {
    const std::string script = std::string("P=$(cat ") + pid_file + " 2>/dev/null) && kill -s KILL -- -\"$P\"; rm -f " +
                               pid_file;
    const auto id = client_->create_exec(container_id_, {{"AttachStdout", true},
                                                         {"AttachStderr", true},
                                                         {"Tty", false},
                                                         {"Cmd", {"sh", "-c", script}}});
    auto s = client_->start_exec(id);
    (void)s.pump([](std::string_view, std::string_view) {}, steady::now() + drain_time);
  }

  // The block runner's exec (see docker/block_runner.hpp), started once per container.
  docker::exec_stream& runner() {
    if (!runner_) {
      const auto id = create_exec({{"AttachStdin", true},
                                   {"AttachStdout", true},
                                   {"AttachStderr", true},
                                   {"Tty", false},
                                   {"WorkingDir", workspace},
                                   {"Cmd", {"sh", "-c", docker::detail::runner_script(pid_file, kill_after)}}});
      runner_.emplace(client_->start_exec(id));
    }
    return *runner_;
  }

  // Between blocks the runner says nothing, unless a process that left a block's group writes
  // late (dropped here, not charged to the next block) or the runner has died with its container
  // (then the next block starts a new one, recreating the container if needed).
  void discard_stale_runner() {
    if (!runner_) return;
    try {
      if (runner_->pump([](std::string_view, std::string_view) {}, steady::now()) == docker::stream_end::eof) {
        runner_.reset();
      }
    } catch (const error&) {
      runner_.reset();
    }
  }

  // The container's processes all end (the runner too): the last resort when a block's process
  // group cannot be killed.
  void restart_container() {
    runner_.reset();
    client_->restart_container(container_id_);
  }

  detail::block_outcome run_block(const detail::prepared_block& block, std::chrono::milliseconds timeout,
                                  const std::stop_token& stop, detail::output_collector& out) {
    const auto nonce = random_hex(32);
    docker::detail::block_output_splitter split(nonce, [&out](std::string_view name, std::string_view data) {
      out.append(name, data);
    });
    const docker::stream_data_handler sink = [&split](std::string_view name, std::string_view data) {
      split.feed(name, data);
    };
    const auto until = [&split] { return split.done(); };
    const auto command = docker::detail::runner_command(nonce, timeout, block.argv);
    const auto started = steady::now();
    discard_stale_runner();
    auto* stream = &runner();
    try {
      stream->write(command, started + 10s);
    } catch (const error& e) {
      if (e.condition() != errc::connection_failed) throw;
      runner_.reset();  // the runner had ended (container restarted under us): one new try
      stream = &runner();
      stream->write(command, steady::now() + 10s);
    }
    const auto end = stream->pump(sink, started + timeout + kill_after + host_margin, stop, until);
    if (end == docker::stream_end::satisfied) {
      const int status = split.exit_status().value_or(exit_code::failure);
      const bool killed_at_deadline = status == 124 || (status == 137 && steady::now() - started >= timeout);
      return {killed_at_deadline ? detail::block_end::timed_out : detail::block_end::exited, status};
    }
    if (end == docker::stream_end::eof) {
      // The runner died with the block (the code killed it, or the container stopped): restart
      // the container so the next block finds a clean one, whatever state this one was left in.
      split.flush();
      out.note("The block's runner in the container ended while the block ran (the container stopped, or the "
               "code killed it); the container was restarted.");
      try {
        restart_container();
      } catch (const error& e) {
        if (e.condition() != errc::docker_api) throw;  // gone: the next exec recreates it
      }
      return {detail::block_end::exited, exit_code::failure};
    }
    // Host-side deadline or stop request: kill the block's group, collect what is left; if the
    // block still does not end (its runner is stuck), restart the container, which ends all.
    kill_block();
    if (stream->pump(sink, steady::now() + drain_time, {}, until) != docker::stream_end::satisfied) {
      split.flush();
      restart_container();
    }
    return {end == docker::stream_end::cancelled ? detail::block_end::cancelled : detail::block_end::timed_out, 0};
  }

  code_result execute_impl(std::span<const code_block> blocks, const execute_options& options) override {
    if (container_id_.empty()) {
      throw error(errc::not_connected, "the docker executor was stopped; make a new one to run code");
    }
    const auto timeout = options.timeout.value_or(options_.timeout);
    if (timeout <= 0ms) throw error(errc::invalid_argument, "execute timeout must be positive");
    const detail::run_settings settings{.workspace = work_dir_,
                                        .table = &table_,
                                        .timeout = timeout,
                                        .max_output_bytes = options_.max_output_bytes,
                                        .handler = &handler_for(options),
                                        .stop = options.stop};
    return detail::run_blocks(blocks, settings,
                              [this, &options](const detail::prepared_block& block, std::chrono::milliseconds t,
                                               detail::output_collector& out) {
                                return run_block(block, t, options.stop, out);
                              });
  }

  void restart_impl() override {
    if (container_id_.empty()) {
      throw error(errc::not_connected, "the docker executor was stopped; make a new one to run code");
    }
    if (client_->inspect_container(container_id_)) {
      restart_container();
    } else {
      runner_.reset();
      create_and_start();
    }
    (void)runner();
  }

  void stop_impl() noexcept override { release(); }

  backend kind_impl() const noexcept override { return backend::docker; }

  docker_executor_options options_;
  detail::interpreter_table table_;
  std::optional<docker::client> client_;
  std::optional<docker::exec_stream> runner_;
  fs::path work_dir_;
  bool owns_work_dir_ = false;
  std::string container_id_;
};

bool process_alive(pid_t pid, const std::string& start_time) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
  // The pid exists; it is the owner only if it started when the owner did.
  return start_time.empty() || process_start_time(pid) == start_time;
}

}  // namespace

std::unique_ptr<code_executor> make_docker_executor(docker_executor_options options) {
  return std::make_unique<docker_executor>(std::move(options));
}

std::vector<std::string> remove_orphaned_docker_containers(const std::string& docker_host) {
  docker::client c({.host = docker_host});
  const auto me = hostname();
  std::vector<std::string> removed;
  for (const auto& item : c.list_containers({{label_executor, "docker"}})) {
    const auto labels = item.value("Labels", nlohmann::json::object());
    if (!labels.is_object() || labels.value(label_host, std::string{}) != me) continue;
    pid_t pid = 0;
    try {
      pid = static_cast<pid_t>(std::stol(labels.value(label_pid, std::string("0"))));
    } catch (const std::exception&) {
      pid = 0;  // unreadable owner: nobody can still own it
    }
    if (process_alive(pid, labels.value(label_pid_start, std::string{}))) continue;
    const auto id = item.value("Id", std::string{});
    if (!id.empty() && c.remove_container(id)) removed.push_back(id);
  }
  return removed;
}

}  // namespace kernelgate
