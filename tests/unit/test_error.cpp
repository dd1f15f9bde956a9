#include <doctest/doctest.h>

#include "kernelgate/error.hpp"

namespace kg = kernelgate;

TEST_CASE("errors carry their condition, category and message") {
  const kg::error e(kg::errc::kernel_died, "kernel python3 died while running a cell");
  CHECK(e.condition() == kg::errc::kernel_died);
  CHECK(e.code().category().name() == std::string("kernelgate"));
  CHECK(std::string(e.what()) == "kernel python3 died while running a cell");  // no ": kernel_died" suffix
  CHECK(e.http_status() == 0);
  const kg::error copy = e;  // copies share the message
  CHECK(std::string(copy.what()) == e.what());
  try {
    throw kg::error(kg::errc::timeout, "no reply within 5 s");
  } catch (const std::exception& caught) {  // what() through the base class too
    CHECK(std::string(caught.what()) == "no reply within 5 s");
  }
  CHECK((std::error_code(kg::errc::timeout) == kg::make_error_code(kg::errc::timeout)));
}

TEST_CASE("HTTP errors keep the status") {
  const kg::error e(kg::errc::http_status, 403, "gateway refused the token");
  CHECK(e.http_status() == 403);
  CHECK(e.condition() == kg::errc::http_status);
}

TEST_CASE("every condition has a name") {
  for (int v = static_cast<int>(kg::errc::signature_mismatch); v <= static_cast<int>(kg::errc::cell_error); ++v)
    CHECK(std::string(kg::to_string(static_cast<kg::errc>(v))) != "unknown kernelgate error");
}
