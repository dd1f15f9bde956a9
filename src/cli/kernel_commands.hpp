#ifndef KERNELGATE_CLI_KERNEL_COMMANDS_HPP
#define KERNELGATE_CLI_KERNEL_COMMANDS_HPP

// `kernelgate kernelspecs [--json]`.

#include <iosfwd>

namespace kernelgate {
struct gateway_options;
}

namespace kernelgate::cli {

/// `kernelgate kernelspecs`: one line per kernelspec found, "NAME  LANGUAGE  PATH" in aligned
/// columns (or, with `json`, {"kernelspecs": [{"name", "language", "display_name", "path"}]}),
/// then, when none is found, a line naming the directories searched. Returns the exit status (0).
int print_kernelspecs(bool json, std::ostream& out);

/// `kernelgate kernelspecs --gateway URL`: the same listing for the specs a gateway offers (the
/// PATH column is the server's name for the spec's resources), default marked with `*`.
/// @throws kernelgate::error (http_status, connection_failed, tls_error...) when the gateway fails.
int print_gateway_kernelspecs(const gateway_options& gateway, bool json, std::ostream& out);

}  // namespace kernelgate::cli

#endif
