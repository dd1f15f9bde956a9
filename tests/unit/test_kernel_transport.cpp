#include "kernelgate/client/transport.hpp"

#include <doctest/doctest.h>

#include <cstring>

TEST_CASE("peer states have their protocol-style names") {
  using kernelgate::peer_state;
  CHECK(std::strcmp(kernelgate::to_string(peer_state::dead), "dead") == 0);
  CHECK(std::strcmp(kernelgate::to_string(peer_state::restarting), "restarting") == 0);
  CHECK(std::strcmp(kernelgate::to_string(peer_state::reconnecting), "reconnecting") == 0);
  CHECK(std::strcmp(kernelgate::to_string(peer_state::reconnected), "reconnected") == 0);
}
