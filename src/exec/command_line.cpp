#include "exec/command_line.hpp"

#include "detail/files.hpp"

#include "detail/process.hpp"
#include "kernelgate/error.hpp"

#include <openssl/evp.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace kernelgate::detail {

namespace {

struct alias {
  std::string_view tag;
  std::string_view name;
  std::string_view extension;
};

// The order is the order of supported_language_names().
constexpr std::array<alias, 12> aliases = {{
    {"python", "python", "py"},
    {"py", "python", "py"},
    {"python3", "python", "py"},
    {"bash", "bash", "bash"},
    {"sh", "sh", "sh"},
    {"shell", "sh", "sh"},
    {"pwsh", "pwsh", "ps1"},
    {"powershell", "pwsh", "ps1"},
    {"ps1", "pwsh", "ps1"},
    {"javascript", "javascript", "js"},
    {"js", "javascript", "js"},
    {"node", "javascript", "js"},
}};

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\f\v");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\f\v");
  return s.substr(b, e - b + 1);
}

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
// as complete, so they pass through instead of being held forever).
std::size_t complete_utf8_prefix(std::string_view s) {
  const std::size_t n = s.size();
  for (std::size_t back = 1; back <= 3 && back <= n; ++back) {
    const auto c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    const std::size_t need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    return need > back ? n - back : n;
  }
  return n;
}

std::string format_duration(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + " s";
  return std::to_string(d.count()) + " ms";
}

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

std::optional<language_info> canonical_language(std::string_view language) {
  const std::string tag = lower(trim(language));
  for (const auto& a : aliases) {
    if (a.tag == tag) return language_info{std::string(a.name), std::string(a.extension)};
  }
  return std::nullopt;
}

std::string supported_language_names(const interpreter_table& table) {
  std::string names;
  for (const auto& a : aliases) {
    if (!table.contains(std::string(a.name))) continue;
    if (!names.empty()) names += ", ";
    names += a.tag;
  }
  return names;
}

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

std::string timeout_note(std::chrono::milliseconds timeout) {
  return "Timeout: the block did not finish within " + format_duration(timeout) +
         " and was stopped; the output above is what it printed until then.";
}

std::string cancelled_note() { return "Cancelled: the run was stopped on request."; }

void output_collector::emit(std::string_view name, std::string_view text) {
  if (text.empty()) return;
  text_ += text;
  if (!handler_ || handler_failed_) return;
  try {
    output o;
    o.kind = output_kind::stream;
    o.name = std::string(name);
    o.text = std::string(text);
    handler_(o);
  } catch (...) {
    handler_failed_ = true;  // a failing callback is not called again during this run
  }
}

void output_collector::append(std::string_view name, std::string_view text) {
  std::string joined;
  if (auto it = partial_.find(name); it != partial_.end() && !it->second.empty()) {
    joined = std::exchange(it->second, {});
    joined += text;
    text = joined;
  }
  const std::size_t whole = complete_utf8_prefix(text);
  if (whole < text.size()) partial_[std::string(name)] = std::string(text.substr(whole));
  text = text.substr(0, whole);
  const std::size_t room = text_.size() < limit_ ? limit_ - text_.size() : 0;
  if (text.size() > room) {
    std::size_t cut = room;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    dropped_ += text.size() - cut;
    text = text.substr(0, cut);
  }
  emit(name, text);
}

void output_collector::flush_streams() {
  for (auto& [name, bytes] : partial_) {
    if (bytes.empty()) continue;
    const std::string rest = std::exchange(bytes, {});
    const std::size_t room = text_.size() < limit_ ? limit_ - text_.size() : 0;
    if (rest.size() > room) dropped_ += rest.size();
    else emit(name, rest);
  }
}

void output_collector::report_truncation() {
  if (dropped_ == 0) return;
  const std::string line = "[output truncated: " + std::to_string(dropped_) + " bytes beyond the " +
                           std::to_string(limit_) + "-byte limit were dropped]";
  dropped_ = 0;
  note(line);
}

void output_collector::note(std::string_view line) {
  flush_streams();
  if (dropped_ != 0) report_truncation();
  std::string piece;
  if (!text_.empty() && text_.back() != '\n') piece += '\n';
  piece += line;
  piece += '\n';
  emit("stderr", piece);
}

std::string output_collector::take() {
  flush_streams();
  report_truncation();
  return std::exchange(text_, {});
}

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

code_result run_blocks(std::span<const code_block> blocks, const run_settings& settings, const block_runner& runner) {
  static const output_handler no_handler;
  output_collector out(settings.max_output_bytes, settings.handler ? *settings.handler : no_handler);
  code_result result;
  std::vector<std::filesystem::path> written;
  const auto before = file_snapshot::take(settings.workspace);
  for (const auto& block : blocks) {
    if (settings.stop.stop_requested()) {
      result.exit_code = exit_code::cancelled;
      out.note(cancelled_note());
      break;
    }
    preparation prep;
    try {
      prep = prepare_block(block, settings.workspace, *settings.table);
    } catch (const std::exception& e) {  // kernelgate::error, or a path the file system refuses
      prep.failure = e.what();
    }
    if (!prep.block) {
      result.exit_code = exit_code::failure;
      out.note(prep.failure);
      break;
    }
    if (!result.code_file) result.code_file = prep.block->file.string();
    written.push_back(prep.block->file);

    block_outcome outcome;
    try {
      outcome = runner(*prep.block, settings.timeout, out);
    } catch (const error& e) {
      out.flush_streams();
      result.exit_code = exit_code::failure;
      out.note(e.what());
      break;
    }
    out.flush_streams();
    if (outcome.end == block_end::timed_out) {
      result.exit_code = exit_code::timeout;
      out.note(timeout_note(settings.timeout));
      break;
    }
    if (outcome.end == block_end::cancelled) {
      result.exit_code = exit_code::cancelled;
      out.note(cancelled_note());
      break;
    }
    result.exit_code = outcome.status;
    if (outcome.status != exit_code::success) break;
  }
  result.output = out.take();
  result.output_files = before.changed_in(file_snapshot::take(settings.workspace), written);
  return result;
}

}  // namespace kernelgate::detail
