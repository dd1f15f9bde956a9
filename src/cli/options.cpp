#include "cli/options.hpp"

#include "kernelgate/exec/code_executor.hpp"

#include <algorithm>
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
  else if (first == "kernelspecs") o.cmd = command::kernelspecs;
  else if (first == "notebook") {
    if (args.size() < 2 || (args[1] != "run" && args[1] != "--help" && args[1] != "-h"))
      throw usage_error("`notebook` takes the subcommand `run` (kernelgate notebook run IN.ipynb ...)");
    o.cmd = command::notebook_run;
    ++i;
  } else {
    throw usage_error("unknown command '" + first + "' (commands: exec, run, reply, kernelspecs, notebook run)");
  }
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
    const auto notebook_only = [&] {
      if (o.cmd != command::notebook_run) throw usage_error(arg + " is an option of `notebook run`");
    };
    // A flag of `notebook run` that turns a setting on.
    const auto notebook_flag = [&](bool& setting) {
      flag();
      notebook_only();
      setting = true;
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
      if (o.executor != "auto" && !backend_from_string(o.executor))
        throw usage_error("unknown executor '" + o.executor + "' (executors: auto, kernel, gateway, local, docker)");
    } else if (arg == "-k" || arg == "--kernel") {
      o.kernel = value();
    } else if (arg == "--connection-file") {
      o.connection_file = value();
    } else if (arg == "--image") {
      o.image = value();
    } else if (arg == "--gateway") {
      o.gateway = value();
      if (o.gateway.empty()) throw usage_error("--gateway needs a URL (http://host:port or https://...)");
    } else if (arg == "--token") {
      o.token = value();
    } else if (arg == "--ca-file") {
      o.ca_file = value();
    } else if (arg == "--insecure") {
      flag();
      o.insecure = true;
    } else if (arg == "-o" || arg == "--output") {
      notebook_only();
      o.output = value();
    } else if (arg == "--inplace") {
      notebook_flag(o.inplace);
    } else if (arg == "-p" || arg == "--parameter") {
      notebook_only();
      if (inline_value || i + 2 >= args.size()) throw usage_error(arg + " needs a NAME and a VALUE");
      o.parameters.emplace_back(args[i + 1], args[i + 2]);
      i += 2;
    } else if (arg == "--allow-errors") {
      notebook_flag(o.allow_errors);
    } else if (arg == "--keep-going") {
      notebook_flag(o.keep_going);
    } else if (arg == "--papermill-metadata") {
      notebook_flag(o.papermill_metadata);
    } else if (arg == "--prepare-only") {
      notebook_flag(o.prepare_only);
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
  if (o.cmd == command::notebook_run && o.files.size() != 1)
    throw usage_error("notebook run takes one notebook (kernelgate notebook run IN.ipynb [-o OUT.ipynb])");
  if (o.cmd == command::notebook_run && o.inplace && !o.output.empty())
    throw usage_error("--inplace and -o name two different outputs; give one");
  if (o.cmd == command::kernelspecs && !o.files.empty())
    throw usage_error("kernelspecs takes no arguments");
  if (!o.kernel.empty() && !o.connection_file.empty())
    throw usage_error("-k starts a kernel and --connection-file attaches to one; give one of them");
  if (!o.connection_file.empty() && o.executor != "auto" && o.executor != "kernel")
    throw usage_error("--connection-file chooses the kernel executor, not '" + o.executor + "'");
  if (!o.kernel.empty() && o.gateway.empty() && o.executor != "auto" && o.executor != "kernel")
    throw usage_error("-k chooses the kernel executor (or, with --gateway, the gateway's kernel), not '" +
                      o.executor + "'");
  if ((o.token || !o.ca_file.empty() || o.insecure) && o.gateway.empty())
    throw usage_error("--token, --ca-file and --insecure go with --gateway URL");
  if (!o.gateway.empty() && !o.connection_file.empty())
    throw usage_error("--gateway and --connection-file name two different kernels; give one");
  if (!o.gateway.empty() && o.executor != "auto" && o.executor != "gateway")
    throw usage_error("--gateway chooses the gateway executor, not '" + o.executor + "'");
  if (o.executor == "gateway" && o.gateway.empty())
    throw usage_error("--executor gateway needs --gateway URL");
  if (!o.image.empty() && o.executor != "auto" && o.executor != "docker")
    throw usage_error("--image chooses the docker executor, not '" + o.executor + "'");
  if (o.cmd == command::exec && !o.files.empty())
    throw usage_error("exec takes code with -c (or on standard input), not '" + o.files.front() + "'");
  if (o.cmd == command::run && o.files.empty()) throw usage_error("run needs at least one FILE");
  if (o.cmd == command::reply && o.files.size() > 1) throw usage_error("reply takes one FILE (or - for standard input)");
  if (o.cmd == command::reply && o.language) throw usage_error("--lang is not an option of `reply` (blocks carry their language)");
  return o;
}

const char* help_text() noexcept {
  return R"(usage: kernelgate COMMAND [OPTIONS] [ARGS]

Runs code in a Jupyter kernel (state persists between blocks), a local process or a Docker
container, and runs notebooks.

commands:
  exec [-c CODE ...] [--lang L]   run each CODE as one block (no -c: standard input is one block);
                                  language python unless --lang says otherwise. In a kernel the
                                  blocks share state: -c 'x=41' -c 'print(x+1)' prints 42
  run FILE...                     run each file as one block; language from the extension
                                  (.py .sh .bash .js .ps1) unless --lang says otherwise
  reply [FILE|-]                  extract the markdown code blocks of a message (default: standard
                                  input), run them and print the AutoGen-style reply
                                  "exitcode: N (execution succeeded|failed)\nCode output: ..."
  kernelspecs [--json] [--gateway URL]
                                  list the kernelspecs found (name, language, path), or the ones
                                  a gateway offers
  notebook run IN.ipynb           execute every code cell of a notebook in one kernel and write
                                  the executed copy (default IN.executed.ipynb next to IN)

executor options (exec, run, reply):
  --executor NAME    auto (default: a kernel, else a local process), kernel, gateway, local or
                     docker
  -k, --kernel NAME  start this kernelspec (default python3); implies --executor kernel
  --connection-file F  attach to the running kernel described by F (it is left running)
  --image IMAGE      the Docker image for --executor docker (default python:3-slim)
  --gateway URL      run in a kernel of a Jupyter server or kernel gateway (http:// or https://,
                     with an optional path prefix); -k names its kernelspec
  --token T          the server's token (default: $KERNELGATE_GATEWAY_TOKEN)
  --ca-file F        PEM file of CAs to trust for https (default: the system's)
  --insecure         do not verify the server's certificate (explicit opt-out)
  --work-dir DIR     where code and output files go (default: a temporary directory, removed
                     afterwards)
  --timeout S        per-block (per-cell) deadline in seconds (default 60; notebooks: none); a
                     block past it is interrupted and exits 124 with its partial output
  --json             print the result as JSON: exit_code, output, code_file, output_files
                     (reply adds "outcome" and "reply")
  --approve          (reply) show the code and ask first: Enter or y runs it, any other text
                     denies and becomes the reason in the reply (read from standard input when
                     the message comes from a FILE, else from the terminal)

notebook run options:
  -o, --output OUT   where the executed notebook goes (written atomically when the run ends);
  --inplace          write it over IN instead
  -p NAME VALUE      a parameter injected after the cell tagged `parameters` (papermill style:
                     numbers, True/False and None are typed, anything else is a string)
  --allow-errors     a cell error does not stop the run
  --keep-going       a cell past --timeout is interrupted and the run goes on
  --papermill-metadata  record papermill's metadata.papermill on the notebook and every cell
                     (times, duration, status, exception; input and output paths)
  --prepare-only     inject the parameters and write the notebook without running it
  -k NAME            the kernel (default: the notebook's kernelspec, else python3); with
                     --gateway URL the notebook runs in a kernel of that server

  -h, --help         this text;  --version  the version

exit status: the result's exit code (0 success, 1 code failed, 124 timeout, 130 interrupted,
otherwise the process's own); a reply with no code block exits 0, a denied one 1; notebook run:
0 when every cell ran as expected, 1 on a cell error or timeout, 130 when interrupted (the output
file is then left as it was); bad flags or input: 2.
)";
}

}  // namespace kernelgate::cli
