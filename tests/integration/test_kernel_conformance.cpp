// The shared executor conformance suite (tests/integration/conformance.hpp) on the ZeroMQ kernel
// backend; test_gateway_executor.cpp runs the same cases through a jupyter-server.
#include "conformance.hpp"
#include "ipykernel_support.hpp"
#include "kernelgate/exec/kernel_executor.hpp"

#include <doctest/doctest.h>

namespace kg = kernelgate;

namespace {

struct zmq_fixture {
  zmq_fixture() { kgtest::require_ipykernel(); }
  kgtest::temp_dir dir;
  std::unique_ptr<kg::code_executor> make(std::chrono::milliseconds timeout, std::chrono::milliseconds grace) {
    return kg::make_kernel_executor({.work_dir = dir.path(), .timeout = timeout, .interrupt_grace = grace});
  }
};

}  // namespace

KERNELGATE_CONFORMANCE_CASES("zmq", zmq_fixture)
