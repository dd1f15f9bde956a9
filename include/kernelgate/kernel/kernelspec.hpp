#ifndef KERNELGATE_KERNEL_KERNELSPEC_HPP
#define KERNELGATE_KERNEL_KERNELSPEC_HPP

// Kernelspec discovery with jupyter_core's search path and precedence, and kernel.json parsing.

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace kernelgate {

/// How a kernel wants to be interrupted (kernel.json `interrupt_mode`).
enum class interrupt_mode {
  signal,   ///< SIGINT to the kernel's process group (the default)
  message,  ///< interrupt_request on the control channel
};

[[nodiscard]] const char* to_string(interrupt_mode m) noexcept;

/// One installed kernel: a directory with a kernel.json.
struct kernelspec {
  std::string name;                          ///< the directory name, lower-case
  std::filesystem::path resource_dir;        ///< the directory holding kernel.json
  std::vector<std::string> argv;             ///< with `{connection_file}` still in it
  std::string display_name;
  std::string language;
  interrupt_mode interrupt = interrupt_mode::signal;
  std::map<std::string, std::string> env;    ///< with `${VAR}` still in it
  nlohmann::json metadata = nlohmann::json::object();

  /// True when argv runs ipykernel (`-m ipykernel_launcher` or `-m ipykernel`), the IPython kernel.
  [[nodiscard]] bool runs_ipykernel() const;
  /// argv with `{connection_file}` and `{resource_dir}` replaced (other `{...}` left as written).
  [[nodiscard]] std::vector<std::string> expand_argv(const std::filesystem::path& connection_file) const;
  /// `parent` overlaid with env, each `${VAR}` / `$VAR` replaced from `parent` (unknown ones stay as
  /// written, like Python's Template.safe_substitute).
  [[nodiscard]] std::map<std::string, std::string> expand_env(const std::map<std::string, std::string>& parent) const;
};

/// The kernels directories searched, highest precedence first: each JUPYTER_PATH entry, the user
/// data dir (JUPYTER_DATA_DIR, else $XDG_DATA_HOME/jupyter, else ~/.local/share/jupyter), then
/// /usr/local/share/jupyter and /usr/share/jupyter — each with "/kernels" appended, duplicates removed.
[[nodiscard]] std::vector<std::filesystem::path> kernelspec_dirs();

/// Every kernelspec found, sorted by name; where a name occurs twice the earlier directory wins.
/// Directories that are not valid kernelspecs are skipped (find_kernelspec reports why).
[[nodiscard]] std::vector<kernelspec> find_kernelspecs();

/// The kernelspec called `name` (case-insensitive).
/// @throws kernelgate::error(errc::no_such_kernel) listing the directories searched and the names
///         available; errc::bad_kernelspec naming the kernel.json and what is wrong with it.
[[nodiscard]] kernelspec find_kernelspec(std::string_view name);

/// Reads `dir`/kernel.json as kernelspec `name`.
/// @throws kernelgate::error(errc::bad_kernelspec) naming the file and the problem.
[[nodiscard]] kernelspec load_kernelspec(const std::filesystem::path& dir, std::string name);

}  // namespace kernelgate

#endif
