#ifndef KERNELGATE_KERNELGATE_HPP
#define KERNELGATE_KERNELGATE_HPP

// Umbrella header: everything a user of kernelgate needs.

#include "kernelgate/error.hpp"
#include "kernelgate/client/output.hpp"
#include "kernelgate/exec/code_executor.hpp"
#include "kernelgate/wire/message.hpp"

#endif
