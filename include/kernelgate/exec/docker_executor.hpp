#ifndef KERNELGATE_EXEC_DOCKER_EXECUTOR_HPP
#define KERNELGATE_EXEC_DOCKER_EXECUTOR_HPP

#include "kernelgate/exec/code_executor.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kernelgate {

/// A host directory made visible inside the executor's container.
struct docker_volume {
  std::filesystem::path host;     ///< an existing absolute host path (never the Docker socket)
  std::string container;          ///< an absolute path in the container, not /workspace
  bool read_only = true;
};

/// Options of make_docker_executor(). Every hardening default can be relaxed one by one.
struct docker_executor_options {
  /// The image the container runs; pulled when missing and a registry is reachable.
  std::string image = "python:3-slim";
  /// Host directory bind-mounted at /workspace, where code files are written. Empty: a new
  /// temporary directory, removed by stop() (a directory given here is created if missing and kept).
  std::filesystem::path work_dir;
  /// work_dir's path as the Docker daemon sees it, when it differs (kernelgate itself in a
  /// container); empty: work_dir.
  std::filesystem::path bind_dir;
  /// Deadline of each block; execute_options::timeout overrides it.
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
  /// Container name; empty: kernelgate-<pid>-<random>.
  std::string container_name;
  /// HostConfig.NetworkMode: "none" (no network at all), or "bridge", "host", a network name.
  std::string network = "none";
  /// The user code runs as. nullopt: this process's uid:gid (files in the work directory stay
  /// yours, and HOME is /tmp); "": the image's default user; else "user", "uid" or "uid:gid".
  std::optional<std::string> user;
  /// Variables set for every block (PYTHONUNBUFFERED=1 is set unless given here).
  std::map<std::string, std::string> env;
  /// Labels added to the container, next to kernelgate's own io.kernelgate.* labels.
  std::map<std::string, std::string> labels;
  std::vector<docker_volume> extra_volumes;
  /// Memory limit in bytes (swap is not allowed on top); 0: unlimited.
  std::int64_t memory_bytes = std::int64_t{512} << 20;
  /// Maximum number of processes in the container (stops fork bombs); 0: unlimited.
  std::int64_t pids_limit = 256;
  /// CPU limit in CPUs (1.5 = one and a half); 0: unlimited.
  double cpus = 0;
  bool drop_all_capabilities = true;  ///< CapDrop ["ALL"]
  bool no_new_privileges = true;      ///< SecurityOpt no-new-privileges
  bool init = true;                   ///< an init process reaps zombies and forwards signals
  bool read_only_rootfs = false;      ///< read-only image filesystem, with a tmpfs at /tmp
  /// Interpreters inside the image by canonical language (python, bash, sh, pwsh, javascript);
  /// empty: python3, bash, sh, pwsh, node. The code file's workspace-relative name is appended.
  std::map<std::string, std::vector<std::string>> interpreters;
  /// The most output a call keeps (bytes, over all its blocks); a line says how much was dropped.
  std::size_t max_output_bytes = std::size_t{1} << 20;
  /// The daemon ("unix:///path"); empty: $DOCKER_HOST, else unix:///var/run/docker.sock.
  std::string docker_host;
  /// Progress lines of an image pull, if one is needed.
  std::function<void(const nlohmann::json&)> on_pull_progress;
};

/// An executor that runs each block in one long-lived Docker container, AutoGen's
/// DockerCommandLineCodeExecutor over the Engine API (no docker CLI), hardened by default: no
/// network, all capabilities dropped, no-new-privileges, pids and memory limits, an init process.
///
/// The factory checks the daemon and the image, then creates and starts the container (labelled
/// io.kernelgate.executor=docker with the owning process), with the work directory at /workspace,
/// and starts one long-lived exec in it: a small sh loop that runs the blocks it is sent, so a
/// block costs a process start in the container rather than a whole Docker exec.
/// Per block: the code file is written on the host into the work directory (same naming, language
/// and workspace rules as the local executor), then run as `timeout -k 1 <T> <interpreter> <file>`
/// in its own process group; what the block leaves running in that group is killed when it ends.
/// Output streams as it arrives (output_kind::stream, "stdout"/"stderr"; each stream in order, the
/// two interleaved as the daemon delivers them). Exit codes: the process's own; 124 on timeout,
/// with the output so far and a line saying so (the in-container timeout, backed by a host-side
/// deadline that kills the block's process group, and restarts the container if even that fails);
/// 130 on a stop request, with the same kill; 1 for an unknown language, a file name outside the
/// work directory, or a block that killed its runner (the container is then restarted). Stops at
/// the first non-zero block.
/// output_files lists files the call created or changed in the work directory.
/// restart() restarts the container at once (processes gone; its filesystem and the work
/// directory kept). stop() force-removes the container (no SIGTERM grace period) and removes a
/// temporary work directory; the destructor does the same and never leaks the container.
/// @throws kernelgate::error: errc::docker_unavailable (no daemon; says what to do),
///   errc::docker_api (image missing and not pullable: says how to provide it; a refused create),
///   errc::invalid_argument (bad timeout, volume or limits), errc::io_error (work directory).
[[nodiscard]] std::unique_ptr<code_executor> make_docker_executor(docker_executor_options options = {});

/// Removes containers left behind by kernelgate Docker executors whose owning process is gone
/// (crashed or killed before stop()). Containers of live processes, and of other hosts sharing the
/// daemon, are kept. Returns the ids removed.
/// @throws kernelgate::error(errc::docker_unavailable / docker_api) when the daemon cannot list them.
std::vector<std::string> remove_orphaned_docker_containers(const std::string& docker_host = {});

}  // namespace kernelgate

#endif
