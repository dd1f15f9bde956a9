#include "kernelgate/error.hpp"
#include "kernelgate/kernel/connection_file.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <set>

namespace kg = kernelgate;

namespace {
kg::errc code_of(const std::filesystem::path& p) {
  try {
    (void)kg::read_connection_file(p);
  } catch (const kg::error& e) {
    CHECK(std::string(e.what()).find(p.string()) != std::string::npos);
    return e.condition();
  }
  return kg::errc::timeout;
}
}  // namespace

TEST_CASE("a fresh local connection has five distinct ports and a 256-bit random key") {
  const auto a = kg::make_local_connection_info("python3");
  const auto b = kg::make_local_connection_info("python3");
  const std::set<int> ports{a.shell_port, a.iopub_port, a.stdin_port, a.control_port, a.hb_port};
  CHECK(ports.size() == 5);
  for (int p : ports) CHECK(p > 0);
  CHECK(a.key.size() == 64);
  CHECK(a.key != b.key);
  CHECK(a.ip == "127.0.0.1");
  CHECK(a.endpoint(kg::channel::shell) == "tcp://127.0.0.1:" + std::to_string(a.shell_port));
  CHECK(a.describe().find(a.key) == std::string::npos);
}

TEST_CASE("write then read round-trips, with mode 0600 and no temporary left") {
  kgtest::temp_dir dir;
  auto info = kg::make_local_connection_info("python3");
  const auto file = dir.path() / "kernel-x.json";
  kg::write_connection_file(file, info);
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  const auto back = kg::read_connection_file(file);
  CHECK(back.shell_port == info.shell_port);
  CHECK(back.hb_port == info.hb_port);
  CHECK(back.key == info.key);
  CHECK(back.signature_scheme == "hmac-sha256");
  CHECK(back.kernel_name == "python3");
  int entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
  CHECK(entries == 1);
}

TEST_CASE("missing and malformed connection files give bad_connection_file naming the file") {
  kgtest::temp_dir dir;
  CHECK(code_of(dir.path() / "absent.json") == kg::errc::bad_connection_file);
  kgtest::write_file(dir.path() / "garbage.json", "{not json");
  CHECK(code_of(dir.path() / "garbage.json") == kg::errc::bad_connection_file);
  kgtest::write_file(dir.path() / "noport.json", R"({"ip": "127.0.0.1", "shell_port": 1})");
  CHECK(code_of(dir.path() / "noport.json") == kg::errc::bad_connection_file);
  kgtest::write_file(dir.path() / "badport.json",
                     R"({"ip": "127.0.0.1", "shell_port": 70000, "iopub_port": 2, "stdin_port": 3,
                         "control_port": 4, "hb_port": 5})");
  CHECK(code_of(dir.path() / "badport.json") == kg::errc::bad_connection_file);
  kgtest::write_file(dir.path() / "badscheme.json",
                     R"({"ip": "127.0.0.1", "shell_port": 1, "iopub_port": 2, "stdin_port": 3,
                         "control_port": 4, "hb_port": 5, "signature_scheme": "rot13"})");
  CHECK(code_of(dir.path() / "badscheme.json") == kg::errc::bad_connection_file);
}

TEST_CASE("jupyter_client's defaults apply to optional fields; ipc endpoints use ip-port") {
  kgtest::temp_dir dir;
  kgtest::write_file(dir.path() / "min.json",
                     R"({"ip": "/tmp/kernel-ipc", "shell_port": 1, "iopub_port": 2, "stdin_port": 3,
                         "control_port": 4, "hb_port": 5, "transport": "ipc"})");
  const auto info = kg::read_connection_file(dir.path() / "min.json");
  CHECK(info.key.empty());
  CHECK(info.signature_scheme == "hmac-sha256");
  CHECK(info.endpoint(kg::channel::iopub) == "ipc:///tmp/kernel-ipc-2");
}
