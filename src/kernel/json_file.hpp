#ifndef KERNELGATE_KERNEL_JSON_FILE_HPP
#define KERNELGATE_KERNEL_JSON_FILE_HPP

// Reading the small JSON files of the kernel layer (kernel.json, connection files) with errors
// that name the file and say what is wrong with it.

#include "kernelgate/error.hpp"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

namespace kernelgate::detail {

/// Reads `file` as one JSON object. `bad(what)` builds the error to throw, e.g. "is not valid JSON: ...".
template <class MakeError>
[[nodiscard]] nlohmann::json read_json_object(const std::filesystem::path& file, const MakeError& bad,
                                              const std::string& unreadable_hint) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw bad(std::string("cannot be read: ") + std::strerror(errno) + unreadable_hint);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw bad(std::string("is not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw bad("must hold a JSON object");
  return j;
}

}  // namespace kernelgate::detail

#endif
