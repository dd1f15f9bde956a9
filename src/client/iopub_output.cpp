// IOPub messages to `output` values, ANSI stripping, and saving rich mime data to files.

#include "kernelgate/client/kernel_client.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace kernelgate {
namespace {

std::string text_of(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  // nbformat allows multi-line strings as arrays of lines.
  if (v.is_array()) {
    std::string s;
    for (const auto& line : v)
      if (line.is_string()) s += line.get<std::string>();
    return s;
  }
  return {};
}

std::string string_or_empty(const nlohmann::json& obj, const char* key) {
  if (!obj.is_object()) return {};
  const auto it = obj.find(key);
  return it != obj.end() ? text_of(*it) : std::string();
}

void fill_bundle(output& out, const nlohmann::json& content) {
  if (const auto it = content.find("data"); it != content.end() && it->is_object()) out.data = *it;
  if (const auto it = content.find("metadata"); it != content.end() && it->is_object()) out.metadata = *it;
  out.text = string_or_empty(out.data, "text/plain");
  if (const auto it = content.find("transient"); it != content.end() && it->is_object())
    out.display_id = string_or_empty(*it, "display_id");
}

}  // namespace

std::string strip_ansi(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c != '\x1b') {
      out += c;
      continue;
    }
    if (i + 1 >= s.size()) break;
    const char kind = s[i + 1];
    if (kind == '[') {  // CSI: parameters and intermediates, then one final byte in @..~
      std::size_t j = i + 2;
      while (j < s.size() && !(s[j] >= '@' && s[j] <= '~')) ++j;
      i = j;
    } else if (kind == ']') {  // OSC: up to BEL or ESC backslash
      std::size_t j = i + 2;
      while (j < s.size() && s[j] != '\a' && !(s[j] == '\x1b' && j + 1 < s.size() && s[j + 1] == '\\')) ++j;
      i = (j < s.size() && s[j] == '\x1b') ? j + 1 : j;
    } else {  // nF/Fp escapes: intermediates 0x20-0x2F, then one final byte (ESC ( B, ESC 7)
      std::size_t j = i + 1;
      while (j < s.size() && s[j] >= 0x20 && s[j] <= 0x2f) ++j;
      i = j;
    }
  }
  return out;
}

std::optional<output> to_output(const message& iopub) {
  const std::string type = iopub.msg_type();
  const auto& content = iopub.content;
  if (!content.is_object()) return std::nullopt;
  output out;
  if (type == "stream") {
    out.kind = output_kind::stream;
    out.name = string_or_empty(content, "name");
    out.text = string_or_empty(content, "text");
  } else if (type == "display_data") {
    out.kind = output_kind::display_data;
    fill_bundle(out, content);
  } else if (type == "update_display_data") {
    out.kind = output_kind::update_display_data;
    fill_bundle(out, content);
  } else if (type == "execute_result") {
    out.kind = output_kind::execute_result;
    fill_bundle(out, content);
    if (const auto it = content.find("execution_count"); it != content.end() && it->is_number_integer())
      out.execution_count = it->get<int>();
  } else if (type == "error") {
    out.kind = output_kind::error;
    out.ename = string_or_empty(content, "ename");
    out.evalue = string_or_empty(content, "evalue");
    if (const auto it = content.find("traceback"); it != content.end() && it->is_array())
      for (const auto& line : *it) out.traceback.push_back(strip_ansi(text_of(line)));
    out.text = out.ename + ": " + out.evalue;
  } else if (type == "clear_output") {
    out.kind = output_kind::clear_output;
    out.wait = content.value("wait", false);
  } else {
    return std::nullopt;
  }
  return out;
}

std::optional<output> to_output(message&& iopub) {
  if (iopub.msg_type() == "stream" && iopub.content.is_object()) {
    const auto it = iopub.content.find("text");
    if (it != iopub.content.end() && it->is_string()) {
      output out;
      out.kind = output_kind::stream;
      out.name = string_or_empty(iopub.content, "name");
      out.text = std::move(it->get_ref<std::string&>());  // large streams: no copy
      return out;
    }
  }
  return to_output(static_cast<const message&>(iopub));
}

// ---- rich data to files ----------------------------------------------------------------------

namespace {

struct mime_file_kind {
  std::string extension;
  bool base64 = false;
};

mime_file_kind file_kind_for(const std::string& mime) {
  static const std::array<std::pair<const char*, mime_file_kind>, 12> known{{
      {"image/png", {"png", true}},
      {"image/jpeg", {"jpg", true}},
      {"image/gif", {"gif", true}},
      {"image/webp", {"webp", true}},
      {"image/bmp", {"bmp", true}},
      {"application/pdf", {"pdf", true}},
      {"image/svg+xml", {"svg", false}},
      {"text/html", {"html", false}},
      {"text/markdown", {"md", false}},
      {"text/latex", {"tex", false}},
      {"application/json", {"json", false}},
      {"application/javascript", {"js", false}},
  }};
  for (const auto& [name, kind] : known)
    if (mime == name) return kind;
  if (mime.ends_with("+json")) return {"json", false};
  if (mime.starts_with("image/")) return {"bin", true};  // other raster images travel as base64
  return {"txt", false};
}

int base64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

std::optional<std::string> base64_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size() / 4 * 3);
  unsigned buffer = 0;
  int bits = 0;
  bool padding = false;
  for (const char ch : in) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\n' || c == '\r' || c == ' ' || c == '\t') continue;
    if (c == '=') {
      padding = true;
      continue;
    }
    const int v = base64_value(c);
    if (v < 0 || padding) return std::nullopt;
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  return out;
}

std::string errno_text() { return std::strerror(errno); }

// Writes `bytes` to a hidden temporary file in `dir`, then moves it to the first free
// `output_<n>.<ext>` without ever replacing an existing file. Returns the final path.
std::filesystem::path write_unique(const std::filesystem::path& dir, const std::string& ext, const std::string& bytes) {
  const std::filesystem::path tmp = dir / (".kernelgate-" + random_hex_id() + ".tmp");
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    throw error(errc::io_error, "cannot save a rich output in " + dir.string() + ": " + errno_text() +
                                    " (check that the output directory exists and is writable)");
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = errno_text();
      ::close(fd);
      ::unlink(tmp.c_str());
      throw error(errc::io_error, "cannot write a rich output to " + dir.string() + ": " + why);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) {
    const std::string why = errno_text();
    ::unlink(tmp.c_str());
    throw error(errc::io_error, "cannot write a rich output to " + dir.string() + ": " + why);
  }
  // Names count up; a process-wide hint avoids rescanning from 1 for every file.
  static std::atomic<unsigned long> hint{1};
  for (unsigned long n = hint.load();; ++n) {
    const std::filesystem::path target = dir / ("output_" + std::to_string(n) + "." + ext);
    if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) == 0) {
      hint.store(n + 1);
      return target;
    }
    if (errno == EEXIST) continue;
    if (errno == EINVAL || errno == ENOSYS) {  // a file system without RENAME_NOREPLACE: link is atomic too
      if (::link(tmp.c_str(), target.c_str()) == 0) {
        ::unlink(tmp.c_str());
        hint.store(n + 1);
        return target;
      }
      if (errno == EEXIST) continue;
    }
    const std::string why = errno_text();
    ::unlink(tmp.c_str());
    throw error(errc::io_error, "cannot save a rich output as " + target.string() + ": " + why);
  }
}

}  // namespace

void save_rich_data(output& out, const std::filesystem::path& dir) {
  if (!out.data.is_object()) return;
  for (const auto& [mime, value] : out.data.items()) {
    if (mime == "text/plain") continue;
    const mime_file_kind kind = file_kind_for(mime);
    std::string bytes;
    const bool json_value = kind.extension == "json" && !value.is_string();
    if (!json_value && (value.is_string() || value.is_array())) {
      const std::string text = text_of(value);
      if (kind.base64) {
        auto decoded = base64_decode(text);
        if (!decoded)
          throw error(errc::malformed_message, "the " + mime + " data of a " + std::string(to_string(out.kind)) +
                                                   " output is not valid base64; nothing was saved for it");
        bytes = std::move(*decoded);
      } else {
        bytes = text;
      }
    } else {
      bytes = value.dump(2);  // application/json and +json bundles carry JSON values, not strings
    }
    out.files.push_back(write_unique(dir, kind.extension, bytes).string());
  }
}

}  // namespace kernelgate
