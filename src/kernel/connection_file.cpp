#include "kernelgate/kernel/connection_file.hpp"

#include "detail/files.hpp"
#include "detail/loopback.hpp"
#include "kernel/json_file.hpp"
#include "kernelgate/error.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace kernelgate {

std::string connection_info::endpoint(channel c) const {
  int port = 0;
  switch (c) {
    case channel::shell: port = shell_port; break;
    case channel::iopub: port = iopub_port; break;
    case channel::input: port = stdin_port; break;
    case channel::control: port = control_port; break;
    case channel::heartbeat: port = hb_port; break;
  }
  if (transport == "ipc") return "ipc://" + ip + "-" + std::to_string(port);
  return transport + "://" + ip + ":" + std::to_string(port);
}

std::string connection_info::describe() const {
  return transport + "://" + ip + " ports shell " + std::to_string(shell_port) + ", iopub " + std::to_string(iopub_port) +
         ", stdin " + std::to_string(stdin_port) + ", control " + std::to_string(control_port) + ", hb " +
         std::to_string(hb_port);
}

connection_info make_local_connection_info(std::string kernel_name) {
  connection_info info;
  info.kernel_name = std::move(kernel_name);
  // All five sockets are held together so the system hands out five distinct ports.
  int* ports[] = {&info.shell_port, &info.iopub_port, &info.stdin_port, &info.control_port, &info.hb_port};
  std::vector<detail::bound_port> held;
  for (int* p : ports) {
    held.push_back(detail::bind_loopback_port());
    *p = held.back().port;
  }
  info.key = random_hex_id() + random_hex_id();
  return info;
}

connection_info read_connection_file(const std::filesystem::path& file) {
  const auto bad = [&](const std::string& what) {
    return error(errc::bad_connection_file, "connection file " + file.string() + " " + what);
  };
  const nlohmann::json j = detail::read_json_object(file, bad, " (pass the path of a kernel-*.json the kernel wrote)");
  connection_info info;
  const auto port = [&](const char* name) {
    const auto it = j.find(name);
    if (it == j.end()) throw bad(std::string("has no \"") + name + "\"");
    if (!it->is_number_integer() || it->get<long long>() <= 0 || it->get<long long>() > 65535)
      throw bad(std::string("has an invalid \"") + name + "\": " + it->dump() + " (expected a port number 1-65535)");
    return it->get<int>();
  };
  const auto text = [&](const char* name, const std::string& fallback, bool required) {
    const auto it = j.find(name);
    if (it == j.end() || it->is_null()) {
      if (required) throw bad(std::string("has no \"") + name + "\"");
      return fallback;
    }
    if (!it->is_string()) throw bad(std::string("has a \"") + name + "\" that is not a string");
    return it->get<std::string>();
  };
  info.shell_port = port("shell_port");
  info.iopub_port = port("iopub_port");
  info.stdin_port = port("stdin_port");
  info.control_port = port("control_port");
  info.hb_port = port("hb_port");
  info.ip = text("ip", "", true);
  info.transport = text("transport", "tcp", false);
  if (info.transport != "tcp" && info.transport != "ipc")
    throw bad("has transport \"" + info.transport + "\"; expected \"tcp\" or \"ipc\"");
  info.key = text("key", "", false);
  info.signature_scheme = text("signature_scheme", "hmac-sha256", false);
  if (!info.signature_scheme.starts_with("hmac-"))
    throw bad("has signature_scheme \"" + info.signature_scheme + "\"; expected hmac-<digest>, e.g. hmac-sha256");
  info.kernel_name = text("kernel_name", "", false);
  return info;
}

void write_connection_file(const std::filesystem::path& file, const connection_info& info) {
  const nlohmann::json j = {
      {"shell_port", info.shell_port}, {"iopub_port", info.iopub_port}, {"stdin_port", info.stdin_port},
      {"control_port", info.control_port}, {"hb_port", info.hb_port}, {"ip", info.ip},
      {"key", info.key}, {"transport", info.transport}, {"signature_scheme", info.signature_scheme},
      {"kernel_name", info.kernel_name},
  };
  const std::string text = j.dump(1) + "\n";
  // Owner-only: the file holds the key that signs every message.
  detail::write_file_atomically(file, text, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                                detail::durability::unsynced);
}

std::filesystem::path jupyter_runtime_dir() {
  std::filesystem::path dir;
  if (const char* v = std::getenv("JUPYTER_RUNTIME_DIR"); v != nullptr && *v != '\0') {
    dir = v;
  } else if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x != nullptr && *x != '\0') {
    dir = std::filesystem::path(x) / "jupyter";
  } else if (const char* d = std::getenv("JUPYTER_DATA_DIR"); d != nullptr && *d != '\0') {
    dir = std::filesystem::path(d) / "runtime";
  } else if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') {
    dir = std::filesystem::path(h) / ".local/share/jupyter/runtime";
  } else {
    dir = std::filesystem::temp_directory_path() / "jupyter-runtime";
  }
  std::error_code ec;
  const bool created = std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir))
    throw error(errc::io_error, "cannot create the Jupyter runtime directory " + dir.string() + ": " + ec.message() +
                                    " (set JUPYTER_RUNTIME_DIR to a writable directory)");
  if (created) ::chmod(dir.c_str(), 0700);  // connection files hold keys: owner only
  return dir;
}

}  // namespace kernelgate
