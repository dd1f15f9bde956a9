#include <doctest/doctest.h>

#include "kernelgate/exec/markdown.hpp"
#include "support.hpp"

#include <filesystem>
#include <string>

namespace kg = kernelgate;

namespace {
const kg::extract_options heuristic{.detection = kg::python_detection::heuristic};
std::vector<kg::code_block> extract(std::string_view text) { return kg::extract_code_blocks(text, heuristic); }
}  // namespace

TEST_CASE("one labelled block") {
  const auto blocks = extract("Run this:\n```python\nprint('hi')\n```\nDone.");
  REQUIRE(blocks.size() == 1);
  CHECK(blocks[0] == kg::code_block{"python", "print('hi')"});
}

TEST_CASE("several blocks in order, text between them ignored") {
  const auto blocks = extract("a\n```sh\necho 1\n```\nthen\n```python\nx = 1\nprint(x)\n```\n");
  REQUIRE(blocks.size() == 2);
  CHECK(blocks[0] == kg::code_block{"sh", "echo 1"});
  CHECK(blocks[1] == kg::code_block{"python", "x = 1\nprint(x)"});
}

TEST_CASE("CRLF line ends: the fences match and the code gets LF") {
  const auto blocks = extract("text\r\n```bash\r\necho a\r\necho b\r\n```\r\n");
  REQUIRE(blocks.size() == 1);
  CHECK(blocks[0] == kg::code_block{"bash", "echo a\necho b"});
}

TEST_CASE("blanks around the tag and indentation before the closing fence") {
  const auto blocks = extract("```  python \t\nprint(1)\n    ```");
  REQUIRE(blocks.size() == 1);
  CHECK(blocks[0] == kg::code_block{"python", "print(1)"});
}

TEST_CASE("a tag that is not one word makes the fence not match, as in AutoGen") {
  CHECK(extract("```c++\nint x;\n```\n").empty());
  CHECK(extract("```python title\nprint(1)\n```\n").empty());
}

TEST_CASE("unlabelled blocks: sh for pip/python commands, python when it parses, else empty") {
  const auto blocks = extract("```\npip install numpy\n```\n```\npython3 script.py\n```\n```\nx = [1, 2]\nprint(x)\n```\n"
                              "```\necho hello world\n```\n");
  REQUIRE(blocks.size() == 4);
  CHECK(blocks[0].language == "sh");
  CHECK(blocks[1].language == "sh");
  CHECK(blocks[2].language == "python");
  CHECK(blocks[3].language == "");
}

TEST_CASE("the heuristic rejects unbalanced brackets, open strings and shell syntax") {
  CHECK(kg::infer_language("print((1)\n", heuristic) == "");
  CHECK(kg::infer_language("s = 'abc\n", heuristic) == "");
  CHECK(kg::infer_language("$HOME/bin/run\n", heuristic) == "");
  CHECK(kg::infer_language("echo \"hi\"\n", heuristic) == "");
  CHECK(kg::infer_language("def f(a, b):\n    return a if a else b\n\nprint(f(1, 2), f\"{3}\")\n", heuristic) ==
        "python");
  CHECK(kg::infer_language("s = '''multi\nline'''\nimport os as o\n", heuristic) == "python");
}

TEST_CASE("the interpreter check uses Python's own compile()") {
  const kg::extract_options real{};
  kgtest::require_service(std::filesystem::exists(real.python), "/usr/bin/python3");
  // Balanced and shell-free, yet not Python: only compile() can tell.
  CHECK(kg::infer_language("x = = 1\n", real) == "");
  CHECK(kg::infer_language("for i in range(3):\nprint(i)\n", real) == "");
  CHECK(kg::infer_language("for i in range(3):\n    print(i)\n", real) == "python");
  const auto blocks = kg::extract_code_blocks("```\nimport os\n```\n```\ndef (:\n```\n```\npip list\n```\n", real);
  REQUIRE(blocks.size() == 3);
  CHECK(blocks[0].language == "python");
  CHECK(blocks[1].language == "");
  CHECK(blocks[2].language == "sh");
}

TEST_CASE("an interpreter that does not exist falls back to the heuristic") {
  const kg::extract_options missing{.python = "/nonexistent/python3"};
  CHECK(kg::infer_language("print(1)\n", missing) == "python");
  CHECK(kg::infer_language("echo hello\n", missing) == "");
}

TEST_CASE("tilde fences and inline code are not blocks") {
  CHECK(extract("~~~python\nprint(1)\n~~~\n").empty());
  CHECK(extract("Use `print(1)` or ``x``.").empty());
}

TEST_CASE("an unterminated fence is not a block") {
  CHECK(extract("```python\nprint(1)\n").empty());
  const auto blocks = extract("```python\nprint(1)\n```\n```sh\necho never closed\n");
  REQUIRE(blocks.size() == 1);
  CHECK(blocks[0].code == "print(1)");
}

TEST_CASE("empty message, empty block") {
  CHECK(extract("").empty());
  CHECK(extract("no code here").empty());
  const auto blocks = extract("```python\n\n```");
  REQUIRE(blocks.size() == 1);
  CHECK(blocks[0].code.empty());
}

TEST_CASE("four-backtick and nested fences follow the regex") {
  // The regex opens at the second backtick and closes at the first line starting with ```.
  const auto outer = extract("````python\nprint(1)\n````\n");
  REQUIRE(outer.size() == 1);
  CHECK(outer[0] == kg::code_block{"python", "print(1)"});
  const auto nested = extract("````markdown\n```python\nprint(2)\n```\n````\n");
  REQUIRE(nested.size() == 1);
  CHECK(nested[0] == kg::code_block{"markdown", "```python\nprint(2)"});
}

TEST_CASE("a long message without fences is scanned without recursion") {
  std::string text(2'000'000, 'x');
  text.insert(1'000'000, "\n```sh\necho mid\n```\n");
  const auto blocks = extract(text);
  REQUIRE(blocks.size() == 1);
  CHECK(blocks[0].code == "echo mid");
}
