#include "exec/code_file.hpp"

#include "detail/files.hpp"
#include "detail/process.hpp"
#include "detail/text.hpp"
#include "kernelgate/error.hpp"

#include <openssl/evp.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>

namespace kernelgate::detail {

namespace {

bool looks_like_file_name(std::string_view s) {
  if (s.empty() || s.find_first_of(" \t") != std::string_view::npos) return false;
  const auto slash = s.rfind('/');
  const auto base = slash == std::string_view::npos ? s : s.substr(slash + 1);
  const auto dot = base.rfind('.');
  if (dot == std::string_view::npos || dot + 1 == base.size()) return false;
  return std::all_of(base.begin() + static_cast<std::ptrdiff_t>(dot) + 1, base.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
}

// The number of leading bytes of `s` that end on a UTF-8 sequence boundary (invalid bytes count

bool file_has_content(const std::filesystem::path& path, std::string_view content) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  unique_fd owner(fd);
  std::string buf(content.size() + 1, '\0');
  std::size_t got = 0;
  for (;;) {
    const auto r = ::read(fd, buf.data() + got, buf.size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
    if (got == buf.size()) return false;  // longer than the content
  }
  return got == content.size() && std::string_view(buf.data(), got) == content;
}


}  // namespace

std::optional<std::string> filename_from_first_line(std::string_view code) {
  const std::string_view line = trim(code.substr(0, code.find('\n')));
  if (line.find('\0') != std::string_view::npos) return std::nullopt;  // no file name holds a NUL
  struct comment {
    std::string_view open, close;
  };
  static constexpr std::array<comment, 4> forms = {{{"<!--", "-->"}, {"/*", "*/"}, {"//", ""}, {"#", ""}}};
  for (const auto& f : forms) {
    if (!line.starts_with(f.open)) continue;
    std::string_view inner = line.substr(f.open.size());
    if (!f.close.empty()) {
      if (!inner.ends_with(f.close)) continue;
      inner.remove_suffix(f.close.size());
    }
    inner = trim(inner);
    if (inner.starts_with("filename:")) {
      const auto name = trim(inner.substr(9));
      if (!name.empty()) return std::string(name);
      return std::nullopt;
    }
    if (looks_like_file_name(inner)) return std::string(inner);
    return std::nullopt;
  }
  return std::nullopt;
}

preparation prepare_block(const code_block& block, const std::filesystem::path& workspace,
                          const interpreter_table& table) {
  namespace fs = std::filesystem;
  preparation out;
  const auto language = canonical_language(block.language);
  const auto interpreter = language ? table.find(language->name) : table.end();
  if (!language || interpreter == table.end()) {
    out.failure = "unknown language " + (block.language.empty() ? std::string("(none)") : block.language) +
                  ": supported languages are " + supported_language_names(table);
    return out;
  }
  const fs::path root = fs::weakly_canonical(workspace);
  fs::path file;
  if (const auto name = filename_from_first_line(block.code)) {
    file = fs::weakly_canonical(root / *name);  // an absolute name replaces root
    const fs::path rel = file.lexically_relative(root);
    if (rel.empty() || rel == "." || *rel.begin() == "..") {
      out.failure = std::string(outside_workspace_message) + ": " + *name + " resolves to " + file.string() +
                    ", outside " + root.string();
      return out;
    }
    std::error_code ec;
    fs::create_directories(file.parent_path(), ec);
    write_file_atomically(file, block.code, default_file_permissions, durability::unsynced);
  } else {
    // The name is the content's hash: a file already there with that name and content is reused.
    file = root / ("tmp_code_" + sha256_hex(block.code) + "." + language->extension);
    if (!file_has_content(file, block.code))
      write_file_atomically(file, block.code, default_file_permissions, durability::unsynced);
  }
  prepared_block p{*language, file, file.lexically_relative(root), interpreter->second};
  p.argv.push_back(p.relative_file.string());
  out.block = std::move(p);
  return out;
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr) != 1)
    throw error(errc::io_error, "cannot compute SHA-256 of a code block (OpenSSL EVP_Digest failed)");
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < size; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0xF];
  }
  return out;
}

}  // namespace kernelgate::detail
