#include <doctest/doctest.h>

#include "kernelgate/error.hpp"

namespace kg = kernelgate;

TEST_CASE("errors carry their condition, category and message") {
  const kg::error e(kg::errc::kernel_died, "kernel python3 died while running a cell");
  CHECK(e.condition() == kg::errc::kernel_died);
  CHECK(e.code().category().name() == std::string("kernelgate"));
  CHECK(std::string(e.what()).find("kernel python3 died") != std::string::npos);
  CHECK(e.http_status() == 0);
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
