#include "detail/files.hpp"

#include "detail/process.hpp"
#include "kernelgate/error.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

namespace kernelgate::detail {

namespace {

[[noreturn]] void fail(const std::string& what, const std::filesystem::path& path, int err) {
  throw error(errc::io_error, what + " " + path.string() + ": " + std::strerror(err));
}

}  // namespace

void write_file_atomically(const std::filesystem::path& path, std::string_view bytes,
                           std::filesystem::perms permissions, durability when) {
  const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::string tmpl = (dir / ("." + path.filename().string() + ".tmp-XXXXXX")).string();
  unique_fd fd(::mkostemp(tmpl.data(), O_CLOEXEC));
  if (!fd) fail("cannot write (no temporary file could be created next to it)", path, errno);
  const std::filesystem::path tmp = tmpl;
  auto discard = [&](const char* what) {
    const int err = errno;
    ::unlink(tmp.c_str());
    fail(what, path, err);
  };
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    const auto n = ::write(fd.get(), p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      discard("cannot write");
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fchmod(fd.get(), static_cast<mode_t>(permissions)) != 0) discard("cannot set permissions of");
  if (when == durability::synced && ::fsync(fd.get()) != 0) discard("cannot flush");
  if (::close(fd.release()) != 0) discard("cannot close");
  if (::rename(tmp.c_str(), path.c_str()) != 0) discard("cannot replace");
}

std::filesystem::path make_temp_work_dir(const std::string& label) {
  const auto base = std::filesystem::temp_directory_path();
  std::string templ = (base / ("kernelgate-" + label + "-XXXXXX")).string();
  if (::mkdtemp(templ.data()) == nullptr)
    throw error(errc::io_error, "cannot create a temporary work directory under " + base.string() + ": " +
                                    std::strerror(errno) + " (set TMPDIR or pass work_dir)");
  return templ;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open", path, errno ? errno : ENOENT);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail("cannot read", path, errno ? errno : EIO);
  return text;
}

}  // namespace kernelgate::detail
