#include "kernelgate/client/kernel_client.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;

TEST_CASE("a deadline from a duration lies in the future and caps correctly") {
  const kernelgate::deadline d = 10min;
  CHECK_FALSE(d.expired());
  CHECK(d.remaining() > 9min);
  const auto c = d.capped(1s);
  CHECK(c.at() < d.at());
  CHECK(d.capped(1h).at() == d.at());
}

TEST_CASE("a past deadline is expired with nothing remaining") {
  const kernelgate::deadline d = kernelgate::deadline::clock::now() - 1s;
  CHECK(d.expired());
  CHECK(d.remaining() == 0ms);
  const kernelgate::deadline neg = -5s;
  CHECK(neg.expired());
}

TEST_CASE("huge durations do not overflow the clock") {
  const kernelgate::deadline d = std::chrono::hours::max();
  CHECK_FALSE(d.expired());
  CHECK(d.at() > kernelgate::deadline::clock::now());
}
