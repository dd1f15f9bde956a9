#include "docker/block_runner.hpp"

#include "kernelgate/error.hpp"

#include <charconv>
#include <cstdio>

namespace kernelgate::docker::detail {

namespace {
constexpr std::string_view marker_head = "\036kernelgate-end:";
}

std::string runner_script(std::string_view pid_file, std::chrono::seconds kill_after) {
  const std::string pf(pid_file);
  return "while IFS= read -r kg_line; do\n"
         "  eval \"$kg_line\"\n"
         "  timeout -k " + std::to_string(kill_after.count()) + " \"$kg_t\" \"$@\" </dev/null &\n"
         "  kg_p=$!\n"
         "  echo \"$kg_p\" > " + pf + "\n"
         "  wait \"$kg_p\"; kg_rc=$?\n"
         "  kill -s KILL -- \"-$kg_p\" 2>/dev/null\n"
         "  printf '\\036kernelgate-end:%s:%d\\n' \"$kg_n\" \"$kg_rc\"\n"
         "  printf '\\036kernelgate-end:%s:%d\\n' \"$kg_n\" \"$kg_rc\" >&2\n"
         "done\n";
}

std::string sh_quote(std::string_view s) {
  std::string out = "'";
  for (const char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string seconds_text(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld.%03lld", static_cast<long long>(d.count() / 1000),
                static_cast<long long>(d.count() % 1000));
  return buf;
}

std::string runner_command(std::string_view nonce, std::chrono::milliseconds timeout,
                           const std::vector<std::string>& argv) {
  std::string line = "kg_n=" + sh_quote(nonce) + "; kg_t=" + seconds_text(timeout) + "; set --";
  for (const auto& a : argv) {
    if (a.find_first_of(std::string_view("\n\0", 2)) != std::string::npos) {
      throw error(errc::invalid_argument, "a command-line argument for the container holds a newline or NUL: " +
                                              sh_quote(a.substr(0, a.find_first_of(std::string_view("\n\0", 2)))));
    }
    line += ' ';
    line += sh_quote(a);
  }
  return line + "\n";
}

block_output_splitter::block_output_splitter(std::string_view nonce, sink on_output)
    : marker_(std::string(marker_head) + std::string(nonce) + ":"), on_output_(std::move(on_output)) {}

void block_output_splitter::feed(std::string_view stream, std::string_view data) {
  auto& st = stream == "stderr" ? err_ : out_;
  if (st.done) return;  // late output of processes that left the block's group
  st.pending.append(data);
  scan(stream == "stderr" ? "stderr" : "stdout", st);
}

void block_output_splitter::scan(std::string_view name, stream_state& st) {
  const auto at = st.pending.find(marker_);
  if (at != std::string::npos) {
    const auto nl = st.pending.find('\n', at + marker_.size());
    if (on_output_ && at > 0) on_output_(name, std::string_view(st.pending).substr(0, at));
    st.pending.erase(0, at);
    if (nl == std::string::npos) return;  // the status digits are still on their way
    const auto digits = std::string_view(st.pending).substr(marker_.size(), nl - at - marker_.size());
    int status = 0;
    const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), status);
    if (ec == std::errc{} && p == digits.data() + digits.size() && (!status_ || name == "stdout")) status_ = status;
    st.pending.clear();
    st.done = true;
    return;
  }
  // Hold back the longest tail that could be the start of the marker.
  std::size_t keep = 0;
  for (std::size_t n = std::min(st.pending.size(), marker_.size() - 1); n > 0; --n) {
    if (std::string_view(st.pending).substr(st.pending.size() - n) == std::string_view(marker_).substr(0, n)) {
      keep = n;
      break;
    }
  }
  const auto emit = st.pending.size() - keep;
  if (emit > 0) {
    if (on_output_) on_output_(name, std::string_view(st.pending).substr(0, emit));
    st.pending.erase(0, emit);
  }
}

void block_output_splitter::flush() {
  for (auto* st : {&out_, &err_}) {
    if (!st->pending.empty() && on_output_) on_output_(st == &out_ ? "stdout" : "stderr", st->pending);
    st->pending.clear();
  }
}

}  // namespace kernelgate::docker::detail
