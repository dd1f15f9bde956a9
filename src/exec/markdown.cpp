#include "kernelgate/exec/markdown.hpp"

#include "detail/process.hpp"

#include <nlohmann/json.hpp>

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <optional>
#include <string_view>

namespace kernelgate {

namespace {

using namespace std::chrono_literals;

// Python's \w on str matches Unicode word characters; every byte of a multi-byte UTF-8 sequence
// counts as one here, which accepts the same tags for letters and digits of any script.
bool is_word(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '_' || u >= 0x80;
}

bool is_blank(char c) noexcept { return c == ' ' || c == '\t'; }

std::string without_cr_before_lf(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') continue;
    out += s[i];
  }
  return out;
}

struct raw_block {
  std::string tag;
  std::string code;
};

// The regex of MarkdownCodeExtractor, run as a linear scan (std::regex recurses per character and
// overflows the stack on long messages).
std::vector<raw_block> find_blocks(std::string_view text) {
  std::vector<raw_block> blocks;
  std::size_t pos = 0;
  const std::size_t n = text.size();
  for (;;) {
    const std::size_t start = text.find("```", pos);
    if (start == std::string_view::npos) break;
    std::size_t p = start + 3;
    while (p < n && is_blank(text[p])) ++p;
    const std::size_t tag_begin = p;
    while (p < n && is_word(text[p])) ++p;
    const std::size_t tag_end = p;
    while (p < n && is_blank(text[p])) ++p;
    if (p < n && text[p] == '\r' && p + 1 < n && text[p + 1] == '\n') p += 2;
    else if (p < n && text[p] == '\n') p += 1;
    else {
      pos = start + 1;  // findall tries the next position
      continue;
    }
    const std::size_t code_begin = p;
    // The lazy (.*?) ends at the first newline (at or after code_begin) followed by optional
    // indentation and a fence; a '\r' just before that newline belongs to the closing part.
    std::optional<std::size_t> code_end, match_end;
    for (std::size_t k = text.find('\n', code_begin); k != std::string_view::npos; k = text.find('\n', k + 1)) {
      std::size_t q = k + 1;
      while (q < n && is_blank(text[q])) ++q;
      if (text.substr(q, 3) == "```") {
        code_end = (k > code_begin && text[k - 1] == '\r') ? k - 1 : k;
        match_end = q + 3;
        break;
      }
    }
    // No closing fence after this opening means none after any later opening either.
    if (!code_end) break;
    blocks.push_back({std::string(text.substr(tag_begin, tag_end - tag_begin)),
                      without_cr_before_lf(text.substr(code_begin, *code_end - code_begin))});
    pos = *match_end;
  }
  return blocks;
}

bool starts_with_shell_command(std::string_view code) noexcept {
  return code.starts_with("python ") || code.starts_with("pip") || code.starts_with("python3 ");
}

bool is_identifier_start(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || u == '_' || u >= 0x80;
}

// Words after which (or before which) another name may follow with only a space between them.
bool is_joining_keyword(std::string_view w) noexcept {
  static constexpr std::array<std::string_view, 30> words = {
      "and", "as", "assert", "async", "await", "case", "class", "def", "del", "elif", "else", "except", "for",
      "from", "global", "if", "import", "in", "is", "lambda", "match", "nonlocal", "not", "or", "raise",
      "return", "type", "while", "with", "yield"};
  for (auto k : words) {
    if (k == w) return true;
  }
  return false;
}

// A conservative syntax check for when no interpreter can be asked; see python_detection::heuristic.
bool looks_like_python(std::string_view code) {
  std::vector<char> brackets;
  enum class prev_token { none, word, value, keyword };
  prev_token prev = prev_token::none;
  bool at_line_start = true;
  std::size_t i = 0;
  const std::size_t n = code.size();
  while (i < n) {
    const char c = code[i];
    if (c == '\n') {
      if (brackets.empty()) {
        at_line_start = true;
        prev = prev_token::none;
      }
      ++i;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\f') {
      ++i;
      continue;
    }
    if (c == '\\' && i + 1 < n && (code[i + 1] == '\n' || code[i + 1] == '\r')) {
      i += 2;
      continue;
    }
    if (at_line_start && brackets.empty() && std::string_view("$`?!&|;<>^").find(c) != std::string_view::npos)
      return false;
    at_line_start = false;
    if (c == '#') {
      while (i < n && code[i] != '\n') ++i;
      continue;
    }
    if (c == '\'' || c == '"') {
      if (prev == prev_token::word) return false;  // `echo "x"`: a name then a string
      const bool triple = code.substr(i, 3) == std::string(3, c);
      const std::string_view quote = triple ? code.substr(i, 3) : code.substr(i, 1);
      i += quote.size();
      bool closed = false;
      while (i < n) {
        if (code[i] == '\\') {
          i += 2;
          continue;
        }
        if (!triple && code[i] == '\n') return false;
        if (code.substr(i, quote.size()) == quote) {
          i += quote.size();
          closed = true;
          break;
        }
        ++i;
      }
      if (!closed) return false;
      prev = prev_token::value;
      continue;
    }
    if (is_identifier_start(c) || (c >= '0' && c <= '9')) {
      const std::size_t b = i;
      while (i < n && (is_identifier_start(code[i]) || (code[i] >= '0' && code[i] <= '9') ||
                       (code[b] >= '0' && code[b] <= '9' && code[i] == '.')))
        ++i;
      const std::string_view w = code.substr(b, i - b);
      // A string prefix such as f"..." or rb'...' is part of the string.
      if (i < n && (code[i] == '"' || code[i] == '\'') && w.size() <= 2 &&
          w.find_first_not_of("rRbBuUfF") == std::string_view::npos) {
        prev = prev_token::none;
        continue;
      }
      const bool keyword = is_joining_keyword(w);
      if (!keyword && (prev == prev_token::word || prev == prev_token::value)) return false;  // `ls foo`
      prev = keyword ? prev_token::keyword : prev_token::word;
      continue;
    }
    if (c == '(' || c == '[' || c == '{') {
      brackets.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
    } else if (c == ')' || c == ']' || c == '}') {
      if (brackets.empty() || brackets.back() != c) return false;
      brackets.pop_back();
      ++i;
      prev = prev_token::value;
      continue;
    } else if (c == '$' || c == '?' || c == '`') {
      return false;
    }
    prev = prev_token::none;
    ++i;
  }
  return brackets.empty();
}

// Writes all of `data` to a pipe without dying of SIGPIPE if the reader has gone.
bool write_all(int fd, std::string_view data) {
  sigset_t pipe_only, old;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
  bool ok = true;
  while (!data.empty()) {
    const auto w = ::write(fd, data.data(), data.size());
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      ok = false;
      break;
    }
    data.remove_prefix(static_cast<std::size_t>(w));
  }
  if (!ok && errno == EPIPE) {
    const timespec zero{0, 0};
    while (sigtimedwait(&pipe_only, nullptr, &zero) > 0) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return ok;
}

constexpr std::string_view compile_script =
    "import json, sys\n"
    "codes = json.loads(sys.stdin.buffer.read().decode('utf-8'))\n"
    "ok = []\n"
    "for c in codes:\n"
    "    try:\n"
    "        compile(c, 'test', 'exec')\n"
    "        ok.append(True)\n"
    "    except BaseException:\n"
    "        ok.append(False)\n"
    "sys.stdout.write(json.dumps(ok))\n";

// compile() of each code in one interpreter process; nullopt when that cannot be done.
std::optional<std::vector<bool>> compile_with_python(const std::vector<std::string_view>& codes,
                                                     const std::filesystem::path& python) {
  try {
    auto child = detail::child_process::spawn({.argv = {python.string(), "-I", "-c", std::string(compile_script)},
                                               .in = detail::stdio::pipe,
                                               .err = detail::stdio::null});
    nlohmann::json payload = nlohmann::json::array();
    for (auto c : codes) payload.push_back(std::string(c));
    if (!write_all(child.stdin_fd(), payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)))
      return std::nullopt;
    child.close_stdin();
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    std::string out;
    char buf[4096];
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !detail::wait_readable(child.stdout_fd(), left)) return std::nullopt;
      const auto r = ::read(child.stdout_fd(), buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return std::nullopt;
      if (r == 0) break;
      out.append(buf, static_cast<std::size_t>(r));
    }
    if (child.wait_for(5s) != 0) return std::nullopt;
    const auto parsed = nlohmann::json::parse(out, nullptr, false);
    if (!parsed.is_array() || parsed.size() != codes.size()) return std::nullopt;
    std::vector<bool> ok;
    for (const auto& v : parsed) ok.push_back(v.is_boolean() && v.get<bool>());
    return ok;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

std::vector<code_block> extract_code_blocks(std::string_view markdown, const extract_options& options) {
  std::vector<code_block> blocks;
  std::vector<std::size_t> to_compile;
  std::vector<std::string_view> codes;
  for (auto& raw : find_blocks(markdown)) {
    code_block b{std::move(raw.tag), std::move(raw.code)};
    if (b.language.empty() && starts_with_shell_command(b.code)) b.language = "sh";
    else if (b.language.empty()) to_compile.push_back(blocks.size());
    blocks.push_back(std::move(b));
  }
  if (to_compile.empty()) return blocks;
  for (auto i : to_compile) codes.push_back(blocks[i].code);
  std::optional<std::vector<bool>> compiled;
  if (options.detection == python_detection::interpreter) compiled = compile_with_python(codes, options.python);
  for (std::size_t j = 0; j < to_compile.size(); ++j) {
    const bool python = compiled ? (*compiled)[j] : looks_like_python(codes[j]);
    if (python) blocks[to_compile[j]].language = "python";
  }
  return blocks;
}

std::string infer_language(std::string_view code, const extract_options& options) {
  if (starts_with_shell_command(code)) return "sh";
  std::optional<std::vector<bool>> compiled;
  if (options.detection == python_detection::interpreter) compiled = compile_with_python({code}, options.python);
  const bool python = compiled ? compiled->front() : looks_like_python(code);
  return python ? "python" : "";
}

}  // namespace kernelgate
