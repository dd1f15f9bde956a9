#ifndef KERNELGATE_TESTS_SUPPORT_HPP
#define KERNELGATE_TESTS_SUPPORT_HPP

// Helpers shared by kernelgate's tests.

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

namespace kgtest {

/// Skips the test program (ctest SKIP_RETURN_CODE 77) when a service is missing on a developer's
/// machine; under the README's test command (KERNELGATE_REQUIRE_SERVICES=1) a missing service fails.
inline void require_service(bool available, const std::string& what) {
  if (available) return;
  if (std::getenv("KERNELGATE_REQUIRE_SERVICES") != nullptr) {
    FAIL("required service missing: " << what << " (scripts/test installs and starts it)");
  }
  MESSAGE("skipping: " << what << " is not available here");
  std::exit(77);
}

/// Debian's interpreter, which has ipykernel, jupyter_client and jupyter-server.
inline const char* system_python() { return "/usr/bin/python3"; }

/// A fresh directory, removed with everything in it when the object goes away.
class temp_dir {
 public:
  temp_dir() {
    std::random_device rd;
    const auto base = std::filesystem::temp_directory_path();
    for (;;) {
      path_ = base / ("kernelgate-test-" + std::to_string(rd()));
      if (std::filesystem::create_directory(path_)) break;
    }
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

}  // namespace kgtest

#endif
