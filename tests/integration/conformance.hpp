#ifndef KERNELGATE_TESTS_CONFORMANCE_HPP
#define KERNELGATE_TESTS_CONFORMANCE_HPP

// The executor contract every kernel backend must meet, as test cases over a fixture:
//
//   struct my_fixture {
//     std::unique_ptr<kernelgate::code_executor> make(std::chrono::milliseconds timeout,
//                                                     std::chrono::milliseconds interrupt_grace);
//   };
//   KERNELGATE_CONFORMANCE_CASES("zmq", my_fixture)
//
// The fixture is built once per test case (it may start a server) and make() may be called again.

#include "kernelgate/exec/code_executor.hpp"
#include "support.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <vector>

namespace kgtest::conformance {

using namespace std::chrono_literals;
namespace kg = kernelgate;

inline kg::code_block py(std::string code) { return {"python", std::move(code)}; }

template <class Fixture>
void state_and_restart(Fixture& f) {
  auto ex = f.make(60s, 5s);
  auto r1 = ex->execute({py("x = 41"), py("print(x + 1)")});
  CHECK(r1.exit_code == 0);
  CHECK(r1.output == "42\n");
  auto r2 = ex->execute({py("x += 1\nx")});
  CHECK(r2.exit_code == 0);
  CHECK(r2.output == "42\n");
  ex->restart();
  CHECK(ex->execute({py("print('x' in globals())")}).output == "False\n");
  ex->restart();  // twice is fine
  ex->stop();
  ex->stop();
}

template <class Fixture>
void languages(Fixture& f) {
  auto ex = f.make(60s, 5s);
  auto sh = ex->execute({{"sh", "echo from-shell"}});
  CHECK(sh.exit_code == 0);
  CHECK(sh.output == "from-shell\n");
  auto bad = ex->execute({py("print('first')"), {"cobol", "DISPLAY 'X'."}, py("print('never')")});
  CHECK(bad.exit_code == 1);
  CHECK(bad.output.find("first\n") == 0);
  CHECK(bad.output.find("cobol") != std::string::npos);
  CHECK(bad.output.find("never") == std::string::npos);
}

template <class Fixture>
void errors(Fixture& f) {
  auto ex = f.make(60s, 5s);
  auto r = ex->execute({py("print('a')\nraise ValueError('bad value')"), py("print('b')")});
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("a\n") == 0);
  CHECK(r.output.find("ValueError: bad value") != std::string::npos);
  CHECK(r.output.find('\x1b') == std::string::npos);
  CHECK(r.output.find("\nb\n") == std::string::npos);
  // Without an input handler, input() fails at once instead of hanging.
  auto in = ex->execute({py("input('name? ')")});
  CHECK(in.exit_code == 1);
  CHECK(in.output.find("StdinNotImplementedError") != std::string::npos);
}

template <class Fixture>
void rich_outputs(Fixture& f) {
  auto ex = f.make(60s, 5s);
  auto r = ex->execute({py("%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([1,2,3])\nplt.show()")});
  CHECK(r.exit_code == 0);
  bool png = false;
  for (const auto& file : r.output_files) {
    if (std::filesystem::path(file).extension() != ".png") continue;
    png = read_file(file).compare(0, 8, std::string("\x89PNG\r\n\x1a\n", 8)) == 0;
    CHECK(r.output.find("Image data saved to " + file) != std::string::npos);
  }
  CHECK(png);
  auto html = ex->execute({py("from IPython.display import HTML, display\ndisplay(HTML('<b>hi</b>'))")});
  CHECK(html.exit_code == 0);
  CHECK(std::any_of(html.output_files.begin(), html.output_files.end(), [](const std::string& file) {
    return std::filesystem::path(file).extension() == ".html" && read_file(file) == "<b>hi</b>";
  }));
}

template <class Fixture>
void timeout_keeps_state(Fixture& f) {
  auto ex = f.make(2s, 5s);
  (void)ex->execute({py("kept = 'yes'")});
  auto r = ex->execute({py("import time\nprint('started', flush=True)\ntime.sleep(300)")});
  CHECK(r.exit_code == 124);
  CHECK(r.output.find("started\n") == 0);
  CHECK(r.output.find("Timeout") != std::string::npos);
  CHECK(r.output.find("state (variables, imports) is kept") != std::string::npos);
  CHECK(r.output.find("KeyboardInterrupt") == std::string::npos);
  auto after = ex->execute({py("print(kept)")});
  CHECK(after.exit_code == 0);
  CHECK(after.output == "yes\n");
}

template <class Fixture>
void timeout_ignored_restarts(Fixture& f) {
  auto ex = f.make(1500ms, 1500ms);
  (void)ex->execute({py("lost = 1")});
  auto r = ex->execute({py("import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                           "print('stubborn', flush=True)\nwhile True: time.sleep(0.05)")});
  CHECK(r.exit_code == 124);
  CHECK(r.output.find("stubborn") != std::string::npos);
  CHECK(r.output.find("was lost") != std::string::npos);
  CHECK(ex->execute({py("print('lost' in globals())")}).output == "False\n");
}

template <class Fixture>
void streaming_and_cancel(Fixture& f) {
  auto ex = f.make(60s, 5s);
  std::vector<std::string> seen;
  std::mutex m;
  kg::execute_options ordered;
  ordered.on_output = [&](const kg::output& out) {
    std::lock_guard lock(m);
    seen.push_back(out.text);
  };
  auto r = ex->execute({py("import sys\nfor i in range(5):\n    print(i, flush=True)\n"
                           "    print('e', i, file=sys.stderr, flush=True)")},
                       ordered);
  CHECK(r.exit_code == 0);
  CHECK(r.output == "0\ne 0\n1\ne 1\n2\ne 2\n3\ne 3\n4\ne 4\n");
  {
    std::lock_guard lock(m);
    std::string joined;
    for (const auto& s : seen) joined += s;
    CHECK(joined == r.output);
    seen.clear();
  }
  std::stop_source stop;
  kg::execute_options o;
  o.stop = stop.get_token();
  o.on_output = [&](const kg::output& out) {
    if (out.text.find("tick") != std::string::npos) stop.request_stop();
  };
  auto c = ex->execute({py("import time\nprint('tick', flush=True)\ntime.sleep(300)")}, o);
  CHECK(c.exit_code == 130);
  CHECK(c.output.find("tick\n") == 0);
  CHECK(c.output.find("Cancelled") != std::string::npos);
  CHECK(ex->execute({py("print('still here')")}).output == "still here\n");
}

template <class Fixture>
void kernel_death(Fixture& f) {
  auto ex = f.make(60s, 5s);
  (void)ex->execute({py("state = 1")});
  auto r = ex->execute({py("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")});
  CHECK(r.exit_code != 0);
  CHECK(r.output.find("next execute starts a new kernel") != std::string::npos);
  auto after = ex->execute({py("print('state' in globals())")});
  CHECK(after.exit_code == 0);
  CHECK(after.output.find("restarted") != std::string::npos);
  CHECK(after.output.find("False\n") != std::string::npos);
}

}  // namespace kgtest::conformance

#define KERNELGATE_CONFORMANCE_CASE_(label, Fixture, fn)                      \
  TEST_CASE(label ": conformance: " #fn) {                                  \
    Fixture fixture;                                                        \
    kgtest::conformance::fn(fixture);                                       \
  }

/// Registers the whole executor conformance suite for one backend.
#define KERNELGATE_CONFORMANCE_CASES(label, Fixture)                          \
  KERNELGATE_CONFORMANCE_CASE_(label, Fixture, state_and_restart)           \
  KERNELGATE_CONFORMANCE_CASE_(label, Fixture, languages)                   \
  KERNELGATE_CONFORMANCE_CASE_(label, Fixture, errors)                      \
  KERNELGATE_CONFORMANCE_CASE_(label, Fixture, rich_outputs)                \
  KERNELGATE_CONFORMANCE_CASE_(label, Fixture, timeout_keeps_state)         \
  KERNELGATE_CONFORMANCE_CASE_(label, Fixture, timeout_ignored_restarts)    \
  KERNELGATE_CONFORMANCE_CASE_(label, Fixture, streaming_and_cancel)        \
  KERNELGATE_CONFORMANCE_CASE_(label, Fixture, kernel_death)

#endif
