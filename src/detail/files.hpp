#ifndef KERNELGATE_DETAIL_FILES_HPP
#define KERNELGATE_DETAIL_FILES_HPP

// File helpers shared by every layer that writes files users read (notebooks, saved outputs,
// code files): a reader or a crash never sees a half-written file.

#include <filesystem>
#include <string>
#include <string_view>

namespace kernelgate::detail {

/// Whether an atomic write also waits until the data is on disk (survives a crash of the machine,
/// not only of the process).
enum class durability { synced, unsynced };

inline constexpr std::filesystem::perms default_file_permissions =
    std::filesystem::perms::owner_read | std::filesystem::perms::owner_write | std::filesystem::perms::group_read |
    std::filesystem::perms::others_read;

/// Writes `bytes` to `path` atomically: a temporary file in the same directory (created 0600, so
/// a secret is never readable on the way), then renamed over `path`. On failure the old file (if
/// any) is intact and the temporary removed.
/// @throws kernelgate::error(errc::io_error) naming the path and the system's reason.
void write_file_atomically(const std::filesystem::path& path, std::string_view bytes,
                           std::filesystem::perms permissions = default_file_permissions,
                           durability when = durability::synced);

/// A new private directory under the system's temporary directory, named kernelgate-<label>-XXXXXX.
/// @throws kernelgate::error(errc::io_error) saying where and why, and what to do.
[[nodiscard]] std::filesystem::path make_temp_work_dir(const std::string& label);

/// Reads a whole file. @throws kernelgate::error(errc::io_error) naming the path.
[[nodiscard]] std::string read_file(const std::filesystem::path& path);

}  // namespace kernelgate::detail

#endif
