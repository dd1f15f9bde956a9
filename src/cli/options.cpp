#include "cli/options.hpp"

#include "kernelgate/exec/code_executor.hpp"
#include "kernelgate/exec/local_executor.hpp"

#include <charconv>
#include <cmath>

namespace kernelgate::cli {

namespace {

std::chrono::milliseconds parse_seconds(const std::string& text) {
  double seconds = 0;
  const auto* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(text.data(), end, seconds);
  if (ec != std::errc() || p != end || !std::isfinite(seconds) || seconds <= 0 || seconds > 1e9)
    throw usage_error("--timeout takes a positive number of seconds, got '" + text + "'");
  return std::chrono::milliseconds(std::max<long long>(1, std::llround(seconds * 1000)));
}

}  // namespace

options parse(const std::vector<std::string>& args) {
  options o;
  std::size_t i = 0;
  if (args.empty()) throw usage_error("no command given");
  const std::string& first = args[0];
  if (first == "--help" || first == "-h" || first == "help") return o;
  if (first == "--version") {
    o.cmd = command::version;
    return o;
  }
  if (first == "exec") o.cmd = command::exec;
  else if (first == "run") o.cmd = command::run;
  else if (first == "reply") o.cmd = command::reply;
  else throw usage_error("unknown command '" + first + "' (commands: exec, run, reply)");
  ++i;

  bool only_operands = false;
  for (; i < args.size(); ++i) {
    std::string arg = args[i];
    std::optional<std::string> inline_value;
    if (!only_operands && arg.starts_with("--") && arg.find('=') != std::string::npos) {
      inline_value = arg.substr(arg.find('=') + 1);
      arg = arg.substr(0, arg.find('='));
    }
    const auto value = [&]() -> std::string {
      if (inline_value) return *inline_value;
      if (i + 1 >= args.size()) throw usage_error(arg + " needs a value");
      return args[++i];
    };
    const auto flag = [&] {
      if (inline_value) throw usage_error(arg + " takes no value");
    };
    if (only_operands || arg == "-" || !arg.starts_with("-")) {
      o.files.push_back(arg);
    } else if (arg == "--") {
      only_operands = true;
    } else if (arg == "--help" || arg == "-h") {
      flag();
      o.cmd = command::help;
      return o;
    } else if (arg == "-c" || arg == "--code") {
      if (o.cmd != command::exec) throw usage_error(arg + " is an option of `exec`");
      o.codes.push_back(value());
    } else if (arg == "--lang" || arg == "-l") {
      o.language = value();
    } else if (arg == "--work-dir") {
      o.work_dir = value();
      if (o.work_dir.empty()) throw usage_error("--work-dir needs a directory");
    } else if (arg == "--timeout") {
      o.timeout = parse_seconds(value());
    } else if (arg == "--executor") {
      o.executor = value();
    } else if (arg == "--json") {
      flag();
      o.json = true;
    } else if (arg == "--approve") {
      flag();
      if (o.cmd != command::reply) throw usage_error("--approve is an option of `reply`");
      o.approve = true;
    } else {
      throw usage_error("unknown option '" + arg + "'");
    }
  }
  if (o.cmd == command::exec && !o.files.empty())
    throw usage_error("exec takes code with -c (or on standard input), not '" + o.files.front() + "'");
  if (o.cmd == command::run && o.files.empty()) throw usage_error("run needs at least one FILE");
  if (o.cmd == command::reply && o.files.size() > 1) throw usage_error("reply takes one FILE (or - for standard input)");
  if (o.cmd == command::reply && o.language) throw usage_error("--lang is not an option of `reply` (blocks carry their language)");
  return o;
}

const char* help_text() noexcept {
  return R"(usage: kernelgate COMMAND [OPTIONS] [ARGS]

Runs code through a kernelgate executor.

commands:
  exec [-c CODE ...] [--lang L]   run each CODE as one block (no -c: standard input is one block);
                                  language python unless --lang says otherwise
  run FILE...                     run each file as one block; language from the extension
                                  (.py .sh .bash .js .ps1) unless --lang says otherwise
  reply [FILE|-]                  extract the markdown code blocks of a message (default: standard
                                  input), run them and print the AutoGen-style reply
                                  "exitcode: N (execution succeeded|failed)\nCode output: ..."

options:
  --executor NAME    which executor runs the code (default: local)
  --work-dir DIR     where code files are written and run (default: a temporary directory,
                     removed afterwards)
  --timeout S        per-block deadline in seconds (default 60); a block past it exits 124
  --json             print the result as JSON: exit_code, output, code_file, output_files
                     (reply adds "outcome" and "reply")
  --approve          (reply) show the code and ask first: Enter or y runs it, any other text
                     denies and becomes the reason in the reply (read from standard input when
                     the message comes from a FILE, else from the terminal)
  -h, --help         this text;  --version  the version

exit status: the result's exit code (0 success, 1 code failed, 124 timeout, 130 interrupted,
otherwise the process's own); a reply with no code block exits 0, a denied one 1;
bad flags or input: 2.
)";
}

std::unique_ptr<code_executor> make_executor(const options& opts) {
  const auto kind = backend_from_string(opts.executor);
  if (!kind) throw usage_error("unknown executor '" + opts.executor + "' (executors: local)");
  switch (*kind) {
    case backend::local: {
      local_executor_options lo;
      lo.work_dir = opts.work_dir;
      if (opts.timeout) lo.timeout = *opts.timeout;
      return make_local_executor(std::move(lo));
    }
    case backend::kernel:
    case backend::gateway:
    case backend::docker:
      break;
  }
  throw usage_error("executor '" + opts.executor + "' is not available in this build (executors: local)");
}

}  // namespace kernelgate::cli
