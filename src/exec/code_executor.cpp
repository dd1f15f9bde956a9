#include "kernelgate/exec/code_executor.hpp"

namespace kernelgate {

const char* to_string(backend b) noexcept {
  switch (b) {
    case backend::kernel: return "kernel";
    case backend::gateway: return "gateway";
    case backend::local: return "local";
    case backend::docker: return "docker";
  }
  return "unknown";
}

std::optional<backend> backend_from_string(std::string_view name) noexcept {
  if (name == "kernel") return backend::kernel;
  if (name == "gateway") return backend::gateway;
  if (name == "local") return backend::local;
  if (name == "docker") return backend::docker;
  return std::nullopt;
}

}  // namespace kernelgate
