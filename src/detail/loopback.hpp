#ifndef KERNELGATE_DETAIL_LOOPBACK_HPP
#define KERNELGATE_DETAIL_LOOPBACK_HPP

#include "detail/process.hpp"  // unique_fd

namespace kernelgate::detail {

/// A TCP socket bound to a free port on 127.0.0.1, not listening. No other socket gets the port
/// while this one holds it (so several held at once have distinct ports); once it is closed, the
/// port goes to whoever binds it first.
struct bound_port {
  unique_fd socket;
  int port = 0;
};

/// @throws kernelgate::error(errc::io_error) when no socket can be created or bound.
[[nodiscard]] bound_port bind_loopback_port();

}  // namespace kernelgate::detail

#endif
