// A program outside the kernelgate tree: it finds the installed package with find_package and uses
// the umbrella header, so every public header must compile with only std and nlohmann/json.
#include <kernelgate/kernelgate.hpp>

#include <iostream>

int main() {
  namespace kg = kernelgate;
  const auto blocks = kg::extract_code_blocks("run this:\n```python\nprint(1)\n```\n");
  const std::string reply = kg::format_reply(kg::code_result{.exit_code = 0, .output = "1\n"});
  auto header = kg::make_header("kernel_info_request", kg::session_identity{});
  if (blocks.size() != 1 || header.at("msg_type") != "kernel_info_request" ||
      reply != "exitcode: 0 (execution succeeded)\nCode output: 1\n")
    return 1;
  std::cout << "kernelgate ok\n";
  return 0;
}
