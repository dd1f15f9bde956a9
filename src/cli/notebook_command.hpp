#ifndef KERNELGATE_CLI_NOTEBOOK_COMMAND_HPP
#define KERNELGATE_CLI_NOTEBOOK_COMMAND_HPP

#include "cli/options.hpp"

namespace kernelgate::cli {

/// `kernelgate notebook run IN.ipynb ...`: executes the notebook, shows progress on a terminal,
/// writes the executed copy atomically and prints a summary. Returns the exit status: 0 when every
/// cell ran as expected, 1 on an unexpected cell error or timeout (the partial notebook is still
/// written), 130 when stopped by Ctrl-C or SIGTERM (nothing is written, so an earlier output file stays as it was).
/// @throws kernelgate::error for an unreadable or malformed notebook or a kernel that cannot start.
int notebook_run(const options& opts);

}  // namespace kernelgate::cli

#endif
