// The `kernelgate` command.
#include "kernelgate/kernelgate.hpp"

#include <iostream>
#include <string_view>

int main(int argc, char** argv) {
  if (argc >= 2 && (std::string_view(argv[1]) == "--version")) {
    std::cout << "kernelgate 0.1.0\n";
    return 0;
  }
  std::cerr << "usage: kernelgate --version\n";
  return 2;
}
