#include "kernelgate/client/transport.hpp"

namespace kernelgate {

const char* to_string(peer_state s) noexcept {
  switch (s) {
    case peer_state::dead: return "dead";
    case peer_state::restarting: return "restarting";
    case peer_state::reconnecting: return "reconnecting";
    case peer_state::reconnected: return "reconnected";
  }
  return "unknown";
}

}  // namespace kernelgate
