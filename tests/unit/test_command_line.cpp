#include <doctest/doctest.h>

#include "detail/files.hpp"
#include "exec/file_snapshot.hpp"
#include "exec/run_blocks.hpp"
#include "kernelgate/error.hpp"
#include "support.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace kg = kernelgate;
namespace kd = kernelgate::detail;
namespace fs = std::filesystem;

namespace {
const kd::interpreter_table table = {{"python", {"python3"}}, {"sh", {"sh"}}, {"bash", {"bash"}}};
}

TEST_CASE("languages: case, aliases and extensions") {
  CHECK(kd::canonical_language("Python")->name == "python");
  CHECK(kd::canonical_language("py")->extension == "py");
  CHECK(kd::canonical_language("python3")->name == "python");
  CHECK(kd::canonical_language("shell")->name == "sh");
  CHECK(kd::canonical_language("PowerShell")->extension == "ps1");
  CHECK(kd::canonical_language("js")->name == "javascript");
  CHECK_FALSE(kd::canonical_language("cobol"));
  CHECK_FALSE(kd::canonical_language(""));
  CHECK(kd::supported_language_names(table) == "python, py, python3, bash, sh, shell");
}

TEST_CASE("file names from the first line") {
  CHECK(kd::filename_from_first_line("# filename: test.py\nprint(1)") == "test.py");
  CHECK(kd::filename_from_first_line("  #filename:sub/dir/a.py  \nx") == "sub/dir/a.py");
  CHECK(kd::filename_from_first_line("// filename: app.js\n") == "app.js");
  CHECK(kd::filename_from_first_line("/* filename: a.c */\n") == "a.c");
  CHECK(kd::filename_from_first_line("<!-- filename: index.html -->\n") == "index.html");
  // AutoGen 0.2's forms without the prefix still name files when the text is a file name...
  CHECK(kd::filename_from_first_line("# test.py\n") == "test.py");
  CHECK(kd::filename_from_first_line("// test.js\n") == "test.js");
  // ...but an ordinary comment does not.
  CHECK_FALSE(kd::filename_from_first_line("# load data\n"));
  CHECK_FALSE(kd::filename_from_first_line("#!/bin/sh\necho"));
  CHECK_FALSE(kd::filename_from_first_line("# version 2.\n"));
  CHECK_FALSE(kd::filename_from_first_line("print(1)  # x.py\n"));
  CHECK_FALSE(kd::filename_from_first_line("# filename:\n"));
  CHECK_FALSE(kd::filename_from_first_line(std::string_view("# filename: a.py\0../../x.py\n", 28)));
}

TEST_CASE("prepare_block writes the file, names it by content hash, builds the command") {
  kgtest::temp_dir ws;
  const auto p = kd::prepare_block({"Python", "print(1)\n"}, ws.path(), table);
  REQUIRE(p.block);
  const std::string name = "tmp_code_" + kd::sha256_hex("print(1)\n") + ".py";
  CHECK(p.block->relative_file == name);
  CHECK(p.block->file == fs::weakly_canonical(ws.path()) / name);
  CHECK(kgtest::read_file(p.block->file) == "print(1)\n");
  CHECK(p.block->argv == std::vector<std::string>{"python3", name});
  CHECK(kd::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // No temporary files are left behind.
  CHECK(std::distance(fs::directory_iterator(ws.path()), fs::directory_iterator()) == 1);
}

TEST_CASE("a named file may sit in a new sub-directory or be absolute inside the workspace") {
  kgtest::temp_dir ws;
  const auto sub = kd::prepare_block({"sh", "# filename: a/b/run.sh\necho hi\n"}, ws.path(), table);
  REQUIRE(sub.block);
  CHECK(sub.block->relative_file == "a/b/run.sh");
  CHECK(kgtest::read_file(ws.path() / "a/b/run.sh") == "# filename: a/b/run.sh\necho hi\n");
  const auto abs = (fs::weakly_canonical(ws.path()) / "abs.py").string();
  const auto absolute = kd::prepare_block({"python", "# filename: " + abs + "\n"}, ws.path(), table);
  REQUIRE(absolute.block);
  CHECK(absolute.block->relative_file == "abs.py");
}

TEST_CASE("names that leave the workspace are refused and nothing is written") {
  kgtest::temp_dir ws;
  fs::create_directory(ws.path() / "inner");
  for (const std::string name : {"../escape.py", "/tmp/kernelgate-escape.py", "inner/../../x.py", "."}) {
    const auto p = kd::prepare_block({"python", "# filename: " + name + "\nprint(1)"}, ws.path() / "inner", table);
    CHECK_FALSE(p.block);
    CHECK(p.failure.starts_with("Filename is not in the workspace"));
  }
  CHECK_FALSE(fs::exists(ws.path() / "escape.py"));
  CHECK_FALSE(fs::exists(ws.path() / "x.py"));
  // A symbolic link inside the workspace that points out of it is refused too.
  fs::create_directory_symlink(ws.path(), ws.path() / "inner" / "up");
  const auto link = kd::prepare_block({"python", "# filename: up/y.py\n"}, ws.path() / "inner", table);
  CHECK_FALSE(link.block);
  CHECK_FALSE(fs::exists(ws.path() / "y.py"));
}

TEST_CASE("unknown or unavailable languages list what is supported") {
  kgtest::temp_dir ws;
  const auto p = kd::prepare_block({"cobol", "DISPLAY 'X'."}, ws.path(), table);
  CHECK_FALSE(p.block);
  CHECK(p.failure == "unknown language cobol: supported languages are python, py, python3, bash, sh, shell");
  CHECK(kd::prepare_block({"javascript", "1"}, ws.path(), table).failure.starts_with("unknown language javascript"));
  CHECK(kd::prepare_block({"", "x"}, ws.path(), table).failure.starts_with("unknown language (none)"));
}

TEST_CASE("writing into a missing directory is a clear error") {
  kgtest::temp_dir ws;
  CHECK_THROWS_AS(kd::write_file_atomically(ws.path() / "no" / "such" / "f.py", "x"), kg::error);
}

TEST_CASE("the collector streams what it keeps, caps, and notes truncation") {
  std::vector<kg::output> seen;
  const kg::output_handler handler = [&](const kg::output& o) { seen.push_back(o); };
  kd::output_collector c(10, handler);
  c.append("stdout", "hello ");
  c.append("stderr", "world, this is long");
  c.note("Timeout: x");
  c.append("stdout", "more");
  const std::string out = c.take();
  CHECK(out.starts_with("hello worl\n[output truncated: 15 bytes beyond the 10-byte limit were dropped]\n"));
  CHECK(out.ends_with("Timeout: x\n[output truncated: 4 bytes beyond the 10-byte limit were dropped]\n"));
  std::string streamed;
  for (const auto& o : seen) streamed += o.text;
  CHECK(streamed == out);
  REQUIRE(seen.size() >= 2);
  CHECK(seen[0].name == "stdout");
  CHECK(seen[1].name == "stderr");
}

TEST_CASE("the collector never splits a UTF-8 sequence") {
  const kg::output_handler none;
  kd::output_collector c(1000, none);
  const std::string euro = "\xE2\x82\xAC";
  c.append("stdout", "a" + euro.substr(0, 1));
  CHECK(c.text() == "a");
  c.append("stdout", euro.substr(1) + "b");
  CHECK(c.text() == "a" + euro + "b");
  kd::output_collector capped(2, none);
  capped.append("stdout", "a" + euro);
  CHECK(capped.take().starts_with("a\n[output truncated: 3 bytes"));
}

TEST_CASE("a throwing handler is not called again and does not escape") {
  int calls = 0;
  const kg::output_handler handler = [&](const kg::output&) {
    ++calls;
    throw std::runtime_error("x");
  };
  kd::output_collector c(100, handler);
  c.append("stdout", "a");
  c.append("stdout", "b");
  CHECK(calls == 1);
  CHECK(c.take() == "ab");
}

TEST_CASE("file snapshots tell new and changed files") {
  kgtest::temp_dir ws;
  kgtest::write_file(ws.path() / "old.txt", "1");
  kgtest::write_file(ws.path() / "same.txt", "1");
  const auto before = kd::file_snapshot::take(ws.path());
  kgtest::write_file(ws.path() / "old.txt", "22");
  fs::create_directory(ws.path() / "d");
  kgtest::write_file(ws.path() / "d" / "new.png", "x");
  kgtest::write_file(ws.path() / "code.py", "x");
  const auto after = kd::file_snapshot::take(ws.path());
  CHECK(before.changed_in(after, {ws.path() / "code.py"}) ==
        std::vector<std::string>{(ws.path() / "d" / "new.png").string(), (ws.path() / "old.txt").string()});
  CHECK_FALSE(kd::file_snapshot::take(ws.path(), 2).complete());
}

TEST_CASE("run_blocks drives any runner: order, first failure, notes, code_file") {
  kgtest::temp_dir ws;
  std::vector<std::string> ran;
  // A runner that "prints" the block's code and exits with the number in it, or times out on "slow".
  const kd::block_runner runner = [&](const kd::prepared_block& b, std::chrono::milliseconds, kd::output_collector& out) {
    const std::string code = kgtest::read_file(b.file);
    ran.push_back(code);
    out.append("stdout", code + "\n");
    if (code == "slow") return kd::block_outcome{kd::block_end::timed_out, 0};
    if (code == "boom") throw kg::error(kg::errc::launch_failed, "cannot start it");
    return kd::block_outcome{kd::block_end::exited, std::stoi(code)};
  };
  const kd::run_settings settings{.workspace = ws.path(), .table = &table, .timeout = std::chrono::seconds(2),
                                  .max_output_bytes = 1000};
  auto r = kd::run_blocks(std::vector<kg::code_block>{{"sh", "0"}, {"sh", "7"}, {"sh", "0"}}, settings, runner);
  CHECK(r.exit_code == 7);
  CHECK(r.output == "0\n7\n");
  CHECK(ran.size() == 2);
  REQUIRE(r.code_file);
  CHECK(fs::path(*r.code_file).filename() == "tmp_code_" + kd::sha256_hex("0") + ".sh");
  CHECK(r.output_files.empty());

  r = kd::run_blocks(std::vector<kg::code_block>{{"sh", "slow"}}, settings, runner);
  CHECK(r.exit_code == 124);
  CHECK(r.output == "slow\n" + kd::timeout_note(std::chrono::seconds(2)) + "\n");

  r = kd::run_blocks(std::vector<kg::code_block>{{"sh", "0"}, {"sh", "boom"}}, settings, runner);
  CHECK(r.exit_code == 1);
  CHECK(r.output.starts_with("0\nboom\ncannot start it"));

  std::stop_source stopped;
  stopped.request_stop();
  auto cancelled = settings;
  cancelled.stop = stopped.get_token();
  r = kd::run_blocks(std::vector<kg::code_block>{{"sh", "0"}}, cancelled, runner);
  CHECK(r.exit_code == 130);
  CHECK(r.output == kd::cancelled_note() + "\n");
  CHECK_FALSE(r.code_file);
}
