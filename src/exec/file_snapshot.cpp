#include "exec/file_snapshot.hpp"

#include <algorithm>

namespace kernelgate::detail {

file_snapshot file_snapshot::take(const std::filesystem::path& dir, std::size_t max_entries) {
  namespace fs = std::filesystem;
  file_snapshot s;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  if (ec) return s;
  std::size_t seen = 0;
  for (const fs::recursive_directory_iterator end; it != end; it.increment(ec)) {
    if (ec || ++seen > max_entries) return file_snapshot{};
    std::error_code e;
    if (!it->is_regular_file(e) || e) continue;
    const auto size = it->file_size(e);
    const auto time = it->last_write_time(e);
    if (!e) s.files_.emplace(it->path(), stamp{size, time});
  }
  s.complete_ = true;
  return s;
}

std::vector<std::string> file_snapshot::changed_in(const file_snapshot& after,
                                                   const std::vector<std::filesystem::path>& except) const {
  std::vector<std::string> out;
  if (!complete_ || !after.complete_) return out;
  for (const auto& [path, st] : after.files_) {
    if (std::find(except.begin(), except.end(), path) != except.end()) continue;
    if (path.filename().string().starts_with(".") && path.filename().string().find(".tmp-") != std::string::npos)
      continue;
    const auto before = files_.find(path);
    if (before == files_.end() || !(before->second == st)) out.push_back(path.string());
  }
  return out;
}

}  // namespace kernelgate::detail
