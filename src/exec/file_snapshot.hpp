#ifndef KERNELGATE_SRC_EXEC_FILE_SNAPSHOT_HPP
#define KERNELGATE_SRC_EXEC_FILE_SNAPSHOT_HPP

// Which files a run created or changed in a directory.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace kernelgate::detail {

/// Regular files under a directory with their size and modification time, to tell which files a
/// run created or changed. Gives up (empty) past `max_entries` entries, so huge trees cost little.
class file_snapshot {
 public:
  static file_snapshot take(const std::filesystem::path& dir, std::size_t max_entries = 10000);
  /// Absolute paths of files new or changed in `after`, sorted, without those in `except`.
  [[nodiscard]] std::vector<std::string> changed_in(const file_snapshot& after,
                                                    const std::vector<std::filesystem::path>& except) const;
  [[nodiscard]] bool complete() const noexcept { return complete_; }

 private:
  struct stamp {
    std::uintmax_t size = 0;
    std::filesystem::file_time_type time;
    bool operator==(const stamp&) const = default;
  };
  std::map<std::filesystem::path, stamp> files_;
  bool complete_ = false;
};

}  // namespace kernelgate::detail

#endif
