#ifndef KERNELGATE_TESTS_INTEGRATION_IPYKERNEL_SUPPORT_HPP
#define KERNELGATE_TESTS_INTEGRATION_IPYKERNEL_SUPPORT_HPP

// What the kernel integration tests need: Debian's ipykernel and its python3 kernelspec.

#include "support.hpp"

#include <cstdlib>
#include <filesystem>

namespace kgtest {

inline void require_ipykernel() {
  require_service(std::filesystem::exists("/usr/share/jupyter/kernels/python3/kernel.json") &&
                      std::system("/usr/bin/python3 -c 'import ipykernel' 2>/dev/null") == 0,
                  "ipykernel with the python3 kernelspec (python3-ipykernel)");
}

}  // namespace kgtest

#endif
