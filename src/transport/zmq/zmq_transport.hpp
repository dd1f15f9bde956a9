#ifndef KERNELGATE_TRANSPORT_ZMQ_ZMQ_TRANSPORT_HPP
#define KERNELGATE_TRANSPORT_ZMQ_ZMQ_TRANSPORT_HPP

// The ZeroMQ channel transport (private): shell/control/stdin DEALERs sharing one identity, an IOPub
// SUB, a heartbeat REQ re-created after every miss, and one I/O thread that also watches the kernel
// process's pidfd. Nothing outside src/transport/zmq includes zmq.hpp.

#include "kernelgate/client/transport.hpp"
#include "kernelgate/kernel/connection_file.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace kernelgate::detail {

struct zmq_transport_options {
  connection_info connection;
  /// The ZeroMQ identity of the shell/control/stdin DEALERs (the client's session id).
  std::string identity;
  /// Time between heartbeat pings, and the wait for each pong.
  std::chrono::milliseconds heartbeat_interval{1000};
  /// Consecutive missed pongs after which the peer is reported dead.
  int heartbeat_misses = 3;
  /// Whether the heartbeat counts from the start. When false it starts with the first watch() call
  /// that enables it (a kernel being launched has not bound its ports yet).
  bool heartbeat = true;
};

/// What the I/O thread watches to tell that the kernel died.
struct liveness_watch {
  int process_fd = -1;     ///< a pidfd that turns readable when the kernel exits; -1: none
  bool heartbeat = true;   ///< count heartbeat misses
  std::string process_name;  ///< for the reason text, e.g. "kernel python3 (pid 1234)"
};

/// The ZeroMQ transport. watch() is synchronous: when it returns, the I/O thread no longer uses the
/// previous process fd (so its owner may close it) and the miss counter starts afresh; if the peer
/// had been reported dead, `reconnected` is reported.
class zmq_transport : public channel_transport {
 public:
  /// Creates the sockets and connects them (ZeroMQ connects lazily: no kernel needs to listen yet).
  /// @throws kernelgate::error(errc::connection_failed) for an endpoint ZeroMQ rejects;
  ///         errc::unsupported_scheme for the connection's signature scheme.
  static std::unique_ptr<zmq_transport> make(zmq_transport_options options);

  virtual void watch(liveness_watch w) = 0;
};

}  // namespace kernelgate::detail

#endif
