#include <kernelgate/kernelgate.hpp>

#include <iostream>

int main() {
  namespace kg = kernelgate;
  kg::error e(kg::errc::timeout, "consumer check");
  auto header = kg::make_header("kernel_info_request", kg::session_identity{});
  if (e.condition() != kg::errc::timeout || header.at("msg_type") != "kernel_info_request") return 1;
  std::cout << "kernelgate ok\n";
  return 0;
}
