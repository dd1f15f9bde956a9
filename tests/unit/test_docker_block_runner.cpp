#include <doctest/doctest.h>

#include "docker/block_runner.hpp"
#include "kernelgate/error.hpp"

#include <string>
#include <vector>

namespace kg = kernelgate;
namespace dd = kernelgate::docker::detail;
using namespace std::chrono_literals;

namespace {
struct capture {
  std::string out, err;
  dd::block_output_splitter::sink sink() {
    return [this](std::string_view name, std::string_view data) { (name == "stderr" ? err : out).append(data); };
  }
};
const std::string nonce = "0123456789abcdef0123456789abcdef";
std::string marker(int status) { return "\036kernelgate-end:" + nonce + ":" + std::to_string(status) + "\n"; }
}  // namespace

TEST_CASE("sh quoting and runner command lines") {
  CHECK(dd::sh_quote("plain") == "'plain'");
  CHECK(dd::sh_quote("it's") == "'it'\\''s'");
  CHECK(dd::sh_quote("$(rm -rf /) `x` \"y\"") == "'$(rm -rf /) `x` \"y\"'");
  CHECK(dd::seconds_text(1500ms) == "1.500");
  CHECK(dd::seconds_text(60000ms) == "60.000");
  CHECK(dd::runner_command("n1", 2s, {"python3", "my file.py"}) ==
        "kg_n='n1'; kg_t=2.000; set -- 'python3' 'my file.py'\n");
  CHECK_THROWS_AS((void)dd::runner_command("n1", 2s, {"python3", "a\nb.py"}), kg::error);
  const auto script = dd::runner_script("/tmp/p", 1s);
  CHECK(script.find("timeout -k 1 ") != std::string::npos);
  CHECK(script.find("> /tmp/p") != std::string::npos);
}

TEST_CASE("the splitter passes output on and ends only when both streams have their marker") {
  capture c;
  dd::block_output_splitter s(nonce, c.sink());
  s.feed("stdout", "hello\n");
  CHECK(c.out == "hello\n");
  s.feed("stdout", "no newline" + marker(3));
  CHECK_FALSE(s.done());
  s.feed("stderr", "warn\n");
  s.feed("stderr", marker(3));
  CHECK(s.done());
  CHECK(s.exit_status() == 3);
  CHECK(c.out == "hello\nno newline");
  CHECK(c.err == "warn\n");
  s.feed("stdout", "late output of an escaped process");
  CHECK(c.out == "hello\nno newline");
}

TEST_CASE("markers split across chunks at every position are found") {
  const std::string wire = "abc\036def" + marker(124) + "ignored";
  for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
    capture c;
    dd::block_output_splitter s(nonce, c.sink());
    s.feed("stdout", wire.substr(0, cut));
    s.feed("stdout", wire.substr(cut));
    s.feed("stderr", marker(124));
    CHECK(s.done());
    CHECK(s.exit_status() == 124);
    CHECK(c.out == "abc\036def");
  }
}

TEST_CASE("output that imitates a marker with another nonce is output") {
  capture c;
  dd::block_output_splitter s(nonce, c.sink());
  const std::string fake = "\036kernelgate-end:ffffffffffffffffffffffffffffffff:0\n";
  s.feed("stdout", fake);
  s.feed("stderr", fake);
  CHECK_FALSE(s.done());
  s.feed("stdout", marker(0));
  s.feed("stderr", marker(0));
  CHECK(s.done());
  CHECK(c.out == fake);
  CHECK(c.err == fake);
}

TEST_CASE("held-back bytes come out on flush when no marker arrives") {
  capture c;
  dd::block_output_splitter s(nonce, c.sink());
  s.feed("stdout", "partial\036kernel");
  CHECK(c.out == "partial");
  s.flush();
  CHECK(c.out == "partial\036kernel");
  CHECK_FALSE(s.exit_status().has_value());
}
