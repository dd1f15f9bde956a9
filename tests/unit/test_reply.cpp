#include <doctest/doctest.h>

#include "kernelgate/exec/reply.hpp"

#include <string>
#include <vector>

namespace kg = kernelgate;

namespace {
// Records what it was asked to run and answers with a fixed result: the reply logic is under test,
// not an executor.
class recording_executor final : public kg::code_executor {
 public:
  explicit recording_executor(kg::code_result answer) : answer_(std::move(answer)) {}
  std::vector<std::vector<kg::code_block>> calls;

 private:
  kg::code_result execute_impl(std::span<const kg::code_block> blocks, const kg::execute_options&) override {
    calls.emplace_back(blocks.begin(), blocks.end());
    return answer_;
  }
  void restart_impl() override {}
  void stop_impl() noexcept override {}
  kg::backend kind_impl() const noexcept override { return kg::backend::local; }
  kg::code_result answer_;
};

const kg::reply_options heuristic{.extract = {.detection = kg::python_detection::heuristic}};
}  // namespace

TEST_CASE("format_reply matches AutoGen's text exactly") {
  CHECK(kg::format_reply({.exit_code = 0, .output = "hello\n"}) == "exitcode: 0 (execution succeeded)\nCode output: hello\n");
  CHECK(kg::format_reply({.exit_code = 124, .output = "\nTimeout"}) ==
        "exitcode: 124 (execution failed)\nCode output: \nTimeout");
  CHECK(kg::format_reply({.exit_code = 1, .output = ""}) == "exitcode: 1 (execution failed)\nCode output: ");
}

TEST_CASE("a message's blocks run together and the reply is the formatted result") {
  recording_executor ex({.exit_code = 0, .output = "3\n"});
  const auto reply = kg::generate_reply(ex, "x\n```python\nprint(1+2)\n```\n```sh\necho hi\n```\n", heuristic);
  CHECK(reply.outcome == kg::reply_outcome::executed);
  CHECK(reply.text == "exitcode: 0 (execution succeeded)\nCode output: 3\n");
  REQUIRE(ex.calls.size() == 1);
  REQUIRE(ex.calls[0].size() == 2);
  CHECK(ex.calls[0][1] == kg::code_block{"sh", "echo hi"});
  REQUIRE(reply.result.has_value());
  CHECK(reply.result->output == "3\n");
}

TEST_CASE("no blocks: nothing runs and the reply says what to send") {
  recording_executor ex({});
  const auto reply = kg::generate_reply(ex, "Just words.", heuristic);
  CHECK(reply.outcome == kg::reply_outcome::no_blocks);
  CHECK(reply.text == kg::no_code_blocks_reply);
  CHECK(ex.calls.empty());
  CHECK_FALSE(reply.result.has_value());
}

TEST_CASE("the approval callback sees the blocks; a denial's reason becomes the reply") {
  recording_executor ex({.exit_code = 0, .output = "ran"});
  std::vector<kg::code_block> seen;
  auto options = heuristic;
  options.approve = [&](std::span<const kg::code_block> blocks) {
    seen.assign(blocks.begin(), blocks.end());
    return kg::approval{.approved = false, .reason = "do not delete files"};
  };
  const auto reply = kg::generate_reply(ex, "```sh\nrm -rf x\n```", options);
  CHECK(reply.outcome == kg::reply_outcome::denied);
  CHECK(reply.text == "Code execution was not approved. Reason: do not delete files");
  CHECK(ex.calls.empty());
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].code == "rm -rf x");

  options.approve = [](std::span<const kg::code_block>) { return kg::approval{}; };
  const auto approved = kg::generate_reply(ex, "```sh\necho ok\n```", options);
  CHECK(approved.outcome == kg::reply_outcome::executed);
  CHECK(approved.text == "exitcode: 0 (execution succeeded)\nCode output: ran");
}

TEST_CASE("a failed run is reported as failed") {
  recording_executor ex({.exit_code = 2, .output = "boom\n"});
  const auto reply = kg::generate_reply(ex, "```bash\nexit 2\n```", heuristic);
  CHECK(reply.text == "exitcode: 2 (execution failed)\nCode output: boom\n");
}
