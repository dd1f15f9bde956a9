#include "exec/session_executor.hpp"

#include "exec/file_snapshot.hpp"
#include "exec/languages.hpp"
#include "exec/output_collector.hpp"
#include "kernelgate/error.hpp"

#include <stdlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>

namespace kernelgate::detail {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

std::string kind_of_file(const fs::path& p) {
  const auto ext = p.extension().string();
  if (ext == ".png" || ext == ".jpg" || ext == ".gif" || ext == ".svg" || ext == ".webp" || ext == ".bmp") return "Image";
  if (ext == ".html") return "HTML";
  if (ext == ".json") return "JSON";
  return "Rich";
}

// Appends one output's text to the block's collected output, as the AutoGen-style result shows it.
void append_output(const output& o, detail::output_collector& out) {
  switch (o.kind) {
    case output_kind::stream: out.append(o.name == "stderr" ? "stderr" : "stdout", o.text); break;
    case output_kind::execute_result:
    case output_kind::display_data:
    case output_kind::update_display_data:
      if (!o.text.empty()) out.append("stdout", o.text + "\n");
      for (const auto& f : o.files) out.append("stdout", kind_of_file(f) + " data saved to " + f + "\n");
      break;
    case output_kind::error: {
      std::string tb;
      for (const auto& line : o.traceback) tb += line + "\n";
      out.append("stderr", tb.empty() ? o.ename + ": " + o.evalue + "\n" : tb);
      break;
    }
    case output_kind::clear_output: break;  // the collected text is a log; it keeps what was shown
  }
}

class session_executor final : public code_executor {
 public:
  session_executor(session_executor_config config, const std::function<std::unique_ptr<executor_session>()>& start)
      : config_(std::move(config)) {
    try {
      if (config_.timeout.count() <= 0)
        throw error(errc::invalid_argument, config_.name + ": timeout must be positive, got " +
                                                std::to_string(config_.timeout.count()) + " ms");
      session_ = start();
      config_.work_dir = fs::absolute(config_.work_dir);
      const auto& info = session_->info();
      language_ = info.language;
      ipython_ = info.implementation == "ipython";
    } catch (...) {
      remove_work_dir();
      throw;
    }
  }
  session_executor(const session_executor&) = delete;
  session_executor& operator=(const session_executor&) = delete;
  ~session_executor() override { stop_impl(); }

 private:
  // The code to send for a block, or nullopt with `why` set when this kernel cannot run it.
  std::optional<std::string> code_for(const code_block& block, std::string& why) const {
    std::string tag = block.language;
    std::transform(tag.begin(), tag.end(), tag.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const auto lang = canonical_language(tag);
    if (tag.empty() || tag == language_ || (lang && lang->name == language_) || (ipython_ && tag == "ipython"))
      return block.code;
    if (lang && (lang->name == "sh" || lang->name == "bash") && ipython_) return "%%bash\n" + block.code;
    why = "unsupported language '" + block.language + "' for the " + session_->kernel_name() + " kernel (language " +
          language_ + (ipython_ ? "; sh, bash and shell blocks run through %%bash" : "") + ")";
    return std::nullopt;
  }

  code_result execute_impl(std::span<const code_block> blocks, const execute_options& options) override {
    std::lock_guard call(call_mutex_);
    if (stopped_) throw error(errc::not_connected, config_.name + " was stopped; create a new one to run code");
    const milliseconds timeout = options.timeout.value_or(config_.timeout);
    if (timeout.count() <= 0)
      throw error(errc::invalid_argument, "execute: timeout must be positive, got " + std::to_string(timeout.count()) + " ms");

    static const output_handler no_handler;
    output_collector out(config_.max_output_bytes, no_handler);
    code_result result;
    const auto before = file_snapshot::take(config_.work_dir);
    std::vector<std::string> rich;

    if (needs_restart_) {
      if (!session_->owned())
        throw error(errc::kernel_died, "the attached kernel died and cannot be restarted by kernelgate; attach again "
                                       "once its owner has restarted it");
      // A gateway may still be auto-restarting the dead kernel and report that to the new
      // connection as a restart: a few attempts, each bounded by the session's own deadlines.
      for (int attempt = 1;; ++attempt) {
        try {
          session_->restart();
          break;
        } catch (const error& e) {
          if (e.condition() != errc::kernel_died || attempt == 3) throw;
        }
      }
      needs_restart_ = false;
      out.note("The kernel had died and was restarted before this run; its earlier state (variables, imports) is lost.");
    }

    // A stop request interrupts the kernel; the run then ends with 130.
    std::optional<std::stop_callback<std::function<void()>>> on_stop;
    if (options.stop.stop_possible())
      on_stop.emplace(options.stop, std::function<void()>([this] {
                        try {
                          session_->interrupt();
                        } catch (...) {  // the run's own wait reports what went wrong
                        }
                      }));

    const output_handler& user = handler_for(options);
    for (const auto& block : blocks) {
      if (options.stop.stop_requested()) {
        result.exit_code = exit_code::cancelled;
        out.note(cancelled_note());
        break;
      }
      std::string why;
      const auto code = code_for(block, why);
      if (!code) {
        result.exit_code = exit_code::failure;
        out.note(why);
        break;
      }
      run_options ro;
      ro.timeout = timeout;
      ro.interrupt_grace = config_.interrupt_grace;
      if (user) ro.on_output = user;
      run_result r;
      try {
        r = session_->execute(*code, ro);
      } catch (const error& e) {
        if (e.condition() != errc::kernel_died) throw;
        needs_restart_ = true;
        result.exit_code = exit_code::failure;
        out.note(std::string(e.what()));
        out.note("The next execute starts a new kernel.");
        break;
      }
      const bool cancelled = options.stop.stop_requested();
      for (const auto& o : r.outputs) {
        // The KeyboardInterrupt our own interrupt caused is not the code's output.
        if ((r.timed_out || cancelled) && o.kind == output_kind::error && o.ename == "KeyboardInterrupt") continue;
        append_output(o, out);
      }
      rich.insert(rich.end(), r.output_files.begin(), r.output_files.end());
      out.flush_streams();
      if (cancelled) {
        result.exit_code = exit_code::cancelled;
        out.note(cancelled_note());
        break;
      }
      if (r.timed_out) {
        result.exit_code = exit_code::timeout;
        out.note(timeout_note(timeout));
        out.note(r.state_lost ? "The kernel did not stop when interrupted and was restarted: its state (variables, "
                                "imports) was lost."
                              : "The kernel was interrupted; its state (variables, imports) is kept.");
        break;
      }
      if (r.status != reply_status::ok) {
        result.exit_code = exit_code::failure;
        break;
      }
    }
    result.output = out.take();
    result.output_files = rich;
    const std::vector<fs::path> except(rich.begin(), rich.end());
    for (auto& f : before.changed_in(file_snapshot::take(config_.work_dir), except)) result.output_files.push_back(std::move(f));
    return result;
  }

  void restart_impl() override {
    std::lock_guard call(call_mutex_);
    if (stopped_) throw error(errc::not_connected, config_.name + " was stopped; create a new one to run code");
    session_->restart();
    needs_restart_ = false;
  }

  void stop_impl() noexcept override {
    std::lock_guard call(call_mutex_);
    if (stopped_) return;
    stopped_ = true;
    if (session_) session_->shutdown();
    session_.reset();
    remove_work_dir();
  }

  backend kind_impl() const noexcept override { return config_.kind; }

  void remove_work_dir() noexcept {
    if (!config_.owns_work_dir) return;
    std::error_code ec;
    fs::remove_all(config_.work_dir, ec);
    config_.owns_work_dir = false;
  }

  session_executor_config config_;
  std::unique_ptr<executor_session> session_;
  std::string language_;
  bool ipython_ = false;
  bool needs_restart_ = false;
  bool stopped_ = false;
  std::mutex call_mutex_;
};

}  // namespace

std::unique_ptr<code_executor> make_session_executor(session_executor_config config,
                                                     const std::function<std::unique_ptr<executor_session>()>& start) {
  return std::make_unique<session_executor>(std::move(config), start);
}

}  // namespace kernelgate::detail
