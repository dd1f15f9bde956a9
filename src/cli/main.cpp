// The `kernelgate` command: exec, run and reply over a code_executor.
#include "cli/interrupt.hpp"
#include "cli/kernel_commands.hpp"
#include "cli/notebook_command.hpp"
#include "kernelgate/gateway/gateway_client.hpp"
#include "cli/options.hpp"
#include "kernelgate/error.hpp"
#include "kernelgate/exec/code_executor.hpp"
#include "kernelgate/exec/reply.hpp"

#include <nlohmann/json.hpp>

#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace kg = kernelgate;
namespace cli = kernelgate::cli;
namespace fs = std::filesystem;

namespace {

std::string read_all(std::istream& in) { return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()}; }

std::string read_input(const std::string& name) {
  if (name == "-") return read_all(std::cin);
  std::ifstream in(name, std::ios::binary);
  if (!in) throw cli::usage_error("cannot read '" + name + "': no such file or not readable");
  return read_all(in);
}

std::string language_of(const std::string& file) {
  const std::string ext = fs::path(file).extension().string();
  if (ext == ".py") return "python";
  if (ext == ".sh") return "sh";
  if (ext == ".bash") return "bash";
  if (ext == ".js") return "javascript";
  if (ext == ".ps1") return "pwsh";
  throw cli::usage_error("cannot tell the language of '" + file + "' from its extension; pass --lang");
}

nlohmann::json result_json(const kg::code_result& r) {
  return {{"exit_code", r.exit_code},
          {"output", r.output},
          {"code_file", r.code_file ? nlohmann::json(*r.code_file) : nlohmann::json(nullptr)},
          {"output_files", r.output_files}};
}

void print_json(const nlohmann::json& j) {
  // Process output need not be UTF-8: invalid bytes become U+FFFD rather than failing the dump.
  std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

// Streams a block's output as it comes: its stdout to ours, its stderr (and our notes) to ours.
kg::output_handler live_printer() {
  return [](const kg::output& o) {
    auto& stream = o.name == "stdout" ? std::cout : std::cerr;
    stream << o.text << std::flush;
  };
}

// Shows the blocks and reads the answer: Enter or y approves, any other text is the reason.
kg::approval ask(std::span<const kg::code_block> blocks, std::istream& answers, std::ostream& prompt) {
  prompt << "kernelgate: the message has " << blocks.size() << " code block" << (blocks.size() == 1 ? "" : "s")
         << " to run:\n";
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    prompt << "--- block " << i + 1 << " (" << (blocks[i].language.empty() ? "unknown" : blocks[i].language)
           << ") ---\n"
           << blocks[i].code << (blocks[i].code.ends_with('\n') ? "" : "\n");
  }
  prompt << "---\nRun it? Enter or y runs; any other text denies and is sent back as the reason: " << std::flush;
  std::string line;
  if (!std::getline(answers, line)) return {.approved = false, .reason = "no answer on the terminal"};
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty() || line == "y" || line == "Y" || line == "yes") return {};
  return {.approved = false, .reason = line};
}

int run_blocks(const cli::options& opts, const std::vector<kg::code_block>& blocks) {
  cli::interrupt_watcher interrupts;
  auto executor = cli::make_executor(opts);
  kg::execute_options ex{.stop = interrupts.token()};
  if (!opts.json) ex.on_output = live_printer();
  const auto result = executor->execute(std::span<const kg::code_block>(blocks), ex);
  if (opts.json) print_json(result_json(result));
  return result.exit_code;
}

int reply(const cli::options& opts) {
  const std::string source = opts.files.empty() ? "-" : opts.files.front();
  const std::string message = read_input(source);
  cli::interrupt_watcher interrupts;
  auto executor = cli::make_executor(opts);
  kg::reply_options ro{.execute = {.stop = interrupts.token()}};
  std::ifstream tty;
  if (opts.approve) {
    std::istream* answers = &std::cin;
    if (source == "-") {
      tty.open("/dev/tty");
      if (!tty) throw cli::usage_error("--approve needs a terminal to ask on when the message comes from standard input");
      answers = &tty;
    }
    ro.approve = [answers](std::span<const kg::code_block> blocks) { return ask(blocks, *answers, std::cerr); };
  }
  const auto r = kg::generate_reply(*executor, message, ro);
  const int status = r.result ? r.result->exit_code : r.outcome == kg::reply_outcome::denied ? 1 : 0;
  if (opts.json) {
    nlohmann::json j = r.result ? result_json(*r.result)
                                : result_json(kg::code_result{.exit_code = status, .output = ""});
    j["outcome"] = r.outcome == kg::reply_outcome::executed ? "executed"
                   : r.outcome == kg::reply_outcome::denied ? "denied"
                                                            : "no_blocks";
    j["reply"] = r.text;
    print_json(j);
  } else {
    std::cout << r.text << (r.text.ends_with('\n') ? "" : "\n");
  }
  return status;
}

// Inputs are read before Ctrl-C is turned into cancellation, so an interrupt while reading ends
// the command the usual way.
int dispatch(const cli::options& opts) {
  switch (opts.cmd) {
    case cli::command::help:
      std::cout << cli::help_text();
      return 0;
    case cli::command::version:
      std::cout << "kernelgate 0.1.0\n";
      return 0;
    case cli::command::exec: {
      std::vector<kg::code_block> blocks;
      const std::string lang = opts.language.value_or("python");
      if (opts.codes.empty()) blocks.push_back({lang, read_all(std::cin)});
      for (const auto& c : opts.codes) blocks.push_back({lang, c});
      return run_blocks(opts, blocks);
    }
    case cli::command::run: {
      std::vector<kg::code_block> blocks;
      for (const auto& f : opts.files) blocks.push_back({opts.language ? *opts.language : language_of(f), read_input(f)});
      return run_blocks(opts, blocks);
    }
    case cli::command::reply:
      return reply(opts);
    case cli::command::kernelspecs:
      return opts.gateway.empty() ? cli::print_kernelspecs(opts.json, std::cout)
                                  : cli::print_gateway_kernelspecs(cli::gateway_options_of(opts), opts.json, std::cout);
    case cli::command::notebook_run:
      return cli::notebook_run(opts);
  }
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    // A closed stdout (`| head`) must not kill the command before it cleans up its children.
    ::signal(SIGPIPE, SIG_IGN);
    return dispatch(cli::parse(args));
  } catch (const cli::usage_error& e) {
    std::cerr << "kernelgate: " << e.what() << "\nTry 'kernelgate --help'.\n";
    return 2;
  } catch (const kg::error& e) {
    std::cerr << "kernelgate: " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "kernelgate: " << e.what() << '\n';
    return 2;
  }
}
