#include <doctest/doctest.h>

#include "kernelgate/error.hpp"
#include "kernelgate/wire/signer.hpp"
#include "wire_support.hpp"

#include <array>
#include <cctype>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace kg = kernelgate;
using namespace std::literals;

namespace {

// RFC 4231 / RFC 2202 test case 2 (key "Jefe"), and Python hashlib for the names hashlib invents.
constexpr auto jefe_data = "what do ya want for nothing?"sv;

struct known_hmac {
  std::string_view scheme;
  std::string_view hex;
};
constexpr std::array jefe_hmacs = {
    known_hmac{"hmac-sha256", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
    known_hmac{"hmac-sha512",
               "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
    known_hmac{"hmac-sha1", "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
    known_hmac{"hmac-md5", "750c783e6ab0b503eaa86e310a5db738"},
    known_hmac{"hmac-sha3_256", "c7d4072e788877ae3596bbb0da73b887c9171f93095b294ae857fbe2645e1ba5"},
    known_hmac{"hmac-blake2b",
               "6ff884f8ddc2a6586b3c98a4cd6ebdf14ec10204b6710073eb5865ade37a2643b8807c1335d107ecdb9ffeaeb6828c4625ba172c66379efcd222c2de11727ab4"},
    known_hmac{"hmac-sha512_224", "4a530b31a79ebcce36916546317c45f247d83241dfb818fd37254bde"},
};

}  // namespace

TEST_CASE("signer computes the reference HMAC for every hashlib-named scheme") {
  for (const auto& known : jefe_hmacs) {
    CAPTURE(known.scheme);
    const kg::signer s("Jefe", known.scheme);
    CHECK(s.enabled());
    CHECK(s.scheme() == known.scheme);
    CHECK(s.signature_size() == known.hex.size());
    const std::array whole{jefe_data};
    CHECK(s.sign(whole) == known.hex);
    // The signature covers the concatenation of the parts, however the bytes are split.
    const std::array split{jefe_data.substr(0, 5), ""sv, jefe_data.substr(5, 10), jefe_data.substr(15)};
    CHECK(s.sign(split) == known.hex);
    CHECK(s.verify(known.hex, split));
  }
}

TEST_CASE("keys longer than a block, and keys with NUL bytes, are used whole") {
  // RFC 4231 test case 6.
  const kg::signer long_key(std::string(131, '\xaa'));
  CHECK(long_key.sign(std::array{"Test Using Larger Than Block-Size Key - Hash Key First"sv}) ==
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  // Python: hmac.new(b"a\x00b", b"x", "sha256").hexdigest()
  const kg::signer nul_key("a\0b"sv);
  CHECK(nul_key.sign(std::array{"x"sv}) == "758acf85d010dbd67262388f811fe5ac923b76ed1301265a66fce397586291b4");
  CHECK(kg::signer("a"sv).sign(std::array{"x"sv}) != nul_key.sign(std::array{"x"sv}));
}

TEST_CASE("the default scheme is hmac-sha256") {
  const kg::signer s("Jefe");
  CHECK(s.scheme() == "hmac-sha256");
  CHECK(s.sign(std::array{jefe_data}) == jefe_hmacs[0].hex);
}

TEST_CASE("verify refuses wrong, truncated, extended, upper-case and empty signatures") {
  const kg::signer s("Jefe");
  const std::array parts{jefe_data};
  const std::string good(jefe_hmacs[0].hex);
  CHECK(s.verify(good, parts));

  std::string flipped = good;
  flipped.back() = flipped.back() == '3' ? '4' : '3';
  CHECK_FALSE(s.verify(flipped, parts));
  CHECK_FALSE(s.verify(std::string_view(good).substr(0, good.size() - 1), parts));
  CHECK_FALSE(s.verify(good + "0", parts));
  CHECK_FALSE(s.verify("", parts));
  std::string upper = good;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK_FALSE(s.verify(upper, parts));
  // Same signature, other bytes.
  CHECK_FALSE(s.verify(good, std::array{"what do ya want for nothing!"sv}));
  // Other key.
  CHECK_FALSE(kg::signer("jefe").verify(good, parts));
}

TEST_CASE("an empty key means unsigned: empty signature, nothing verified") {
  const kg::signer defaulted;
  const kg::signer empty_key("", "hmac-sha512");
  for (const kg::signer* s : {&defaulted, &empty_key}) {
    CHECK_FALSE(s->enabled());
    CHECK(s->signature_size() == 0);
    CHECK(s->sign(std::array{jefe_data}).empty());
    CHECK(s->verify("", std::array{jefe_data}));
    CHECK(s->verify("not even hex", std::array{jefe_data}));
  }
}

TEST_CASE("unsupported schemes are refused by name, key or no key") {
  for (const auto scheme : {"hmac-nosuchdigest"sv, "sha256"sv, "hmac-"sv, "HMAC_SHA256"sv, "hmac-shake128"sv, ""sv}) {
    CAPTURE(scheme);
    const auto e = kgtest::error_from([&] { kg::signer("secret-key", scheme); });
    CHECK(e.condition() == kg::errc::unsupported_scheme);
    const std::string what = e.what();
    CHECK(what.find("'" + std::string(scheme) + "'") != std::string::npos);
    CHECK(what.find("secret-key") == std::string::npos);
    CHECK(kgtest::error_from([&] { kg::signer("", scheme); }).condition() == kg::errc::unsupported_scheme);
  }
}

TEST_CASE("sign_into reuses the caller's string and copies share the key") {
  const kg::signer s("Jefe");
  std::string out = "previous contents";
  s.sign_into(std::array{jefe_data}, out);
  CHECK(out == jefe_hmacs[0].hex);

  kg::signer copy = s;
  kg::signer moved = std::move(copy);
  CHECK(moved.sign(std::array{jefe_data}) == jefe_hmacs[0].hex);
  // Moving copies: the source still signs and verifies (it never degrades to "unsigned").
  CHECK(copy.enabled());  // NOLINT(bugprone-use-after-move): that is the point
  CHECK_FALSE(copy.verify("", std::array{jefe_data}));
  moved = kg::signer();
  CHECK_FALSE(moved.enabled());
  CHECK(s.sign(std::array{jefe_data}) == jefe_hmacs[0].hex);
}

TEST_CASE("signing from several threads at once gives the right signatures") {
  const kg::signer s("Jefe");
  std::vector<int> wrong(4, 0);
  {
    std::vector<std::jthread> threads;
    for (std::size_t t = 0; t < wrong.size(); ++t) {
      threads.emplace_back([&s, &wrong, t] {
        for (int i = 0; i < 2000; ++i) {
          if (s.sign(std::array{jefe_data}) != jefe_hmacs[0].hex) ++wrong[t];
        }
      });
    }
  }
  for (const int w : wrong) CHECK(w == 0);
}

TEST_CASE("replay_guard refuses a signature seen before and forgets the oldest when full") {
  kg::replay_guard guard(3);
  CHECK(guard.capacity() == 3);
  CHECK(guard.check_and_record("a"));
  CHECK_FALSE(guard.check_and_record("a"));
  CHECK(guard.check_and_record("b"));
  CHECK(guard.check_and_record("c"));
  CHECK(guard.size() == 3);
  CHECK(guard.check_and_record("d"));  // evicts "a"
  CHECK(guard.size() == 3);
  CHECK(guard.check_and_record("a"));  // evicts "b"
  CHECK_FALSE(guard.check_and_record("c"));
  CHECK_FALSE(guard.check_and_record("d"));
  CHECK(guard.check_and_record("b"));  // evicts "c"
  CHECK(guard.check_and_record("c"));
  CHECK(guard.size() == 3);

  // Empty signatures (unsigned traffic) are never recorded.
  CHECK(guard.check_and_record(""));
  CHECK(guard.check_and_record(""));
  CHECK(guard.size() == 3);

  guard.clear();
  CHECK(guard.size() == 0);
  CHECK(guard.check_and_record("c"));
}

TEST_CASE("replay_guard stays bounded over many signatures") {
  kg::replay_guard guard(1000);
  for (int i = 0; i < 10000; ++i) REQUIRE(guard.check_and_record(std::to_string(i)));
  CHECK(guard.size() == 1000);
  CHECK_FALSE(guard.check_and_record("9999"));
  CHECK_FALSE(guard.check_and_record("9000"));
  CHECK(guard.check_and_record("8999"));
  CHECK(kg::replay_guard().capacity() == 65536);
  CHECK(kgtest::error_from([] { kg::replay_guard zero(0); }).condition() == kg::errc::invalid_argument);
}
