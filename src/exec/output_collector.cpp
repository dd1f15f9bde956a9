#include "exec/output_collector.hpp"

#include <utility>

namespace kernelgate::detail {

namespace {

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

}  // namespace

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

}  // namespace kernelgate::detail
