#ifndef KERNELGATE_TESTS_UNIT_WIRE_SUPPORT_HPP
#define KERNELGATE_TESTS_UNIT_WIRE_SUPPORT_HPP

// Helpers shared by the wire-layer tests.

#include <doctest/doctest.h>

#include "kernelgate/error.hpp"
#include "kernelgate/wire/message.hpp"

#include <string>

namespace kgtest {

/// Runs `f`, which must throw a kernelgate::error, and returns that error.
template <class F>
kernelgate::error error_from(F&& f) {
  try {
    f();
  } catch (const kernelgate::error& e) {
    return e;
  }
  FAIL("expected a kernelgate::error");
  return kernelgate::error(kernelgate::errc::invalid_argument, "unreachable");
}

/// The errc name of the kernelgate::error `f` throws, "no error" when it returns; `what` gets the
/// error's text.
template <class F>
std::string error_name(F&& f, std::string* what = nullptr) {
  try {
    f();
  } catch (const kernelgate::error& e) {
    if (what) *what = e.what();
    return kernelgate::to_string(e.condition());
  }
  return "no error";
}

/// What a decoder made of randomly mutated input: each attempt either decodes or is refused with
/// errc::malformed_message; anything else (another condition, another exception, a crash) fails.
struct decode_tally {
  int decoded = 0;
  int refused = 0;

  template <class F>
  void attempt(F&& decode) {
    try {
      decode();
      ++decoded;
    } catch (const kernelgate::error& e) {
      CHECK(e.condition() == kernelgate::errc::malformed_message);
      ++refused;
    }
  }
  /// Both outcomes occurred: the mutations reached past the decoder's first check.
  void check_both_seen() const {
    CHECK(decoded > 0);
    CHECK(refused > 0);
  }
};

/// Checks that two messages have the same parts, buffers and channel.
inline void check_same_message(const kernelgate::message& got, const kernelgate::message& want) {
  CHECK(got.header == want.header);
  CHECK(got.parent_header == want.parent_header);
  CHECK(got.metadata == want.metadata);
  CHECK(got.content == want.content);
  CHECK(got.buffers == want.buffers);
  CHECK(got.chan == want.chan);
}

}  // namespace kgtest

#endif
