#include <doctest/doctest.h>

#include "kernelgate/error.hpp"
#include "kernelgate/wire/zmq_codec.hpp"
#include "wire/json_text.hpp"
#include "wire_support.hpp"

#include <array>
#include <cmath>
#include <limits>
#include <random>
#include <thread>
#include <string>
#include <string_view>
#include <vector>

namespace kg = kernelgate;
using json = nlohmann::json;
using namespace std::literals;

namespace {

const kg::session_identity who{.session = "0123abcd-4567890123456789abcdef01", .username = "tester"};

kg::message sample_message() {
  kg::message m = kg::make_message("execute_request", {{"code", "print('h\u00e9llo \u2603')"}, {"silent", false}}, who,
                                   kg::channel::shell);
  m.metadata = {{"cellId", "c1"}};
  return m;
}

std::vector<std::string> frames_with(std::vector<std::string> frames, std::size_t index, std::string value) {
  frames.at(index) = std::move(value);
  return frames;
}

}  // namespace

TEST_CASE("encode lays out identities, delimiter, signature, four compact JSON frames and buffers") {
  const kg::signer sign("a-key");
  kg::message m = sample_message();
  m.buffers = {"\x00\x01\x02"s, "second"};
  const std::vector<std::string> ids{"client-identity", "second-hop"};
  const auto frames = kg::encode_zmq(m, sign, ids);

  REQUIRE(frames.size() == 2 + 1 + 5 + 2);
  CHECK(frames[0] == "client-identity");
  CHECK(frames[1] == "second-hop");
  CHECK(frames[2] == "<IDS|MSG>");
  CHECK(frames[4] == m.header.dump());
  CHECK(frames[5] == "{}");
  CHECK(frames[6] == R"({"cellId":"c1"})");
  // Compact, sorted, and UTF-8 written as UTF-8 rather than \u escapes.
  CHECK(frames[7] == "{\"code\":\"print('h\u00e9llo \u2603')\",\"silent\":false}");
  CHECK(frames[8] == "\x00\x01\x02"s);
  CHECK(frames[9] == "second");
  const std::array<std::string_view, 4> json_frames{frames[4], frames[5], frames[6], frames[7]};
  CHECK(frames[3] == sign.sign(json_frames));
  CHECK(frames[3].size() == 64);
}

TEST_CASE("decode gives back the message, identities and buffers; unknown fields survive") {
  const kg::signer sign("a-key");
  kg::message m = sample_message();
  m.header["subshell_id"] = "future-field";
  m.header["x_vendor"] = json{{"nested", json::array({1, 2.5, nullptr, "\u00fc"})}};
  m.content["unknown"] = json{{"deep", json{{"er", true}}}};
  m.parent_header = sample_message().header;
  m.buffers = {std::string(1000, '\xff'), ""};
  const std::vector<std::string> ids{"topic.stream"};

  const auto frames = kg::encode_zmq(m, sign, ids);
  const kg::zmq_decoded d = kg::decode_zmq(frames, sign, kg::channel::iopub);
  CHECK(d.identities == ids);
  CHECK(d.msg.header == m.header);
  CHECK(d.msg.parent_header == m.parent_header);
  CHECK(d.msg.metadata == m.metadata);
  CHECK(d.msg.content == m.content);
  CHECK(d.msg.buffers == m.buffers);
  CHECK(d.msg.chan == kg::channel::iopub);
  CHECK(d.msg.msg_type() == "execute_request");
  CHECK(d.msg.parent_msg_id() == m.parent_header["msg_id"]);
  // Encoding the decoded message again reproduces the frames byte for byte.
  CHECK(kg::encode_zmq(d.msg, sign, d.identities) == frames);
}

TEST_CASE("decode takes views, so a transport can hand over its own frame memory") {
  const kg::signer sign("a-key");
  const auto frames = kg::encode_zmq(sample_message(), sign);
  std::vector<std::string_view> views(frames.begin(), frames.end());
  const auto d = kg::decode_zmq(std::span<const std::string_view>(views), sign, kg::channel::shell);
  CHECK(d.identities.empty());
  CHECK(d.msg.content.at("code") == "print('h\u00e9llo \u2603')");
}

TEST_CASE("encoding an rvalue moves the buffers instead of copying them") {
  kg::message m = sample_message();
  m.buffers = {std::string(4096, 'b')};
  const auto frames = kg::encode_zmq(std::move(m), kg::signer("k"));
  CHECK(frames.back() == std::string(4096, 'b'));
}

TEST_CASE("an empty key sends an empty signature and accepts any signature") {
  const kg::signer unsigned_signer;
  const auto frames = kg::encode_zmq(sample_message(), unsigned_signer);
  CHECK(frames[1].empty());
  CHECK_NOTHROW((void)kg::decode_zmq(frames, unsigned_signer, kg::channel::shell));
  // A peer that signs anyway (xeus does, with an empty key) is still understood.
  const auto signed_frames = kg::encode_zmq(sample_message(), kg::signer("peer-key"));
  CHECK_NOTHROW((void)kg::decode_zmq(signed_frames, unsigned_signer, kg::channel::shell));
}

TEST_CASE("signature failures are typed and checked before the JSON is read") {
  const kg::signer sign("right-key");
  const auto frames = kg::encode_zmq(sample_message(), sign);

  SUBCASE("unsigned message where a key is set") {
    const auto e = kgtest::error_from([&] { (void)kg::decode_zmq(frames_with(frames, 1, ""), sign, kg::channel::shell); });
    CHECK(e.condition() == kg::errc::unsigned_message);
  }
  SUBCASE("signed with another key") {
    const auto other = kg::encode_zmq(sample_message(), kg::signer("wrong-key"));
    const auto e = kgtest::error_from([&] { (void)kg::decode_zmq(other, sign, kg::channel::shell); });
    CHECK(e.condition() == kg::errc::signature_mismatch);
    CHECK(std::string(e.what()).find("right-key") == std::string::npos);
    CHECK(std::string(e.what()).find("wrong-key") == std::string::npos);
  }
  SUBCASE("another scheme") {
    const auto other = kg::encode_zmq(sample_message(), kg::signer("right-key", "hmac-sha512"));
    CHECK(kgtest::error_from([&] { (void)kg::decode_zmq(other, sign, kg::channel::shell); }).condition() ==
          kg::errc::signature_mismatch);
  }
  SUBCASE("truncated signature") {
    const auto cut = frames_with(frames, 1, frames[1].substr(0, 63));
    CHECK(kgtest::error_from([&] { (void)kg::decode_zmq(cut, sign, kg::channel::shell); }).condition() ==
          kg::errc::signature_mismatch);
  }
  SUBCASE("each signed frame is covered") {
    for (std::size_t i = 2; i <= 5; ++i) {
      CAPTURE(i);
      // Same JSON value, other bytes: the signature covers the bytes as received.
      const auto spaced = frames_with(frames, i, frames[i] + " ");
      CHECK(kgtest::error_from([&] { (void)kg::decode_zmq(spaced, sign, kg::channel::shell); }).condition() ==
            kg::errc::signature_mismatch);
    }
  }
  SUBCASE("a forged frame that is not even JSON is refused as forged, not parsed") {
    const auto forged = frames_with(frames, 5, "{not json");
    CHECK(kgtest::error_from([&] { (void)kg::decode_zmq(forged, sign, kg::channel::shell); }).condition() ==
          kg::errc::signature_mismatch);
  }
  SUBCASE("buffers are not signed, as in the reference") {
    auto with_buffer = frames;
    with_buffer.emplace_back("appended buffer");
    const auto d = kg::decode_zmq(with_buffer, sign, kg::channel::shell);
    CHECK(d.msg.buffers == std::vector<std::string>{"appended buffer"});
  }
}

TEST_CASE("a replayed message is refused; forged ones are not recorded") {
  const kg::signer sign("k");
  kg::replay_guard guard;
  const auto frames = kg::encode_zmq(sample_message(), sign);
  CHECK_NOTHROW((void)kg::decode_zmq(frames, sign, kg::channel::shell, &guard));
  CHECK(guard.size() == 1);
  CHECK(kgtest::error_from([&] { (void)kg::decode_zmq(frames, sign, kg::channel::shell, &guard); }).condition() ==
        kg::errc::replayed_message);
  // Without a guard the same frames decode again.
  CHECK_NOTHROW((void)kg::decode_zmq(frames, sign, kg::channel::shell));

  const auto forged = frames_with(kg::encode_zmq(sample_message(), sign), 1, std::string(64, 'a'));
  CHECK(kgtest::error_from([&] { (void)kg::decode_zmq(forged, sign, kg::channel::shell, &guard); }).condition() ==
        kg::errc::signature_mismatch);
  CHECK(guard.size() == 1);

  // With no key there is nothing to tell messages apart by: no replay check.
  const kg::signer none;
  const auto plain = kg::encode_zmq(sample_message(), none);
  CHECK_NOTHROW((void)kg::decode_zmq(plain, none, kg::channel::shell, &guard));
  CHECK_NOTHROW((void)kg::decode_zmq(plain, none, kg::channel::shell, &guard));
}

TEST_CASE("malformed frame lists are refused with malformed_message") {
  const kg::signer none;
  const auto good = kg::encode_zmq(sample_message(), none);
  const auto check_malformed = [&](const std::vector<std::string>& frames, std::string_view needle) {
    const auto e = kgtest::error_from([&] { (void)kg::decode_zmq(frames, none, kg::channel::shell); });
    CHECK(e.condition() == kg::errc::malformed_message);
    CHECK_MESSAGE(std::string(e.what()).find(needle) != std::string::npos, std::string(e.what()));
  };

  check_malformed({}, "delimiter");
  check_malformed({"id", "{}", "{}"}, "delimiter");
  check_malformed({good.begin(), good.end() - 1}, "at least 5");
  check_malformed({"<IDS|MSG>"}, "at least 5");
  check_malformed(frames_with(good, 2, "{\"msg_id\": "), "header frame");
  check_malformed(frames_with(good, 3, ""), "parent_header frame");
  check_malformed(frames_with(good, 4, "NaN"), "metadata frame");
  check_malformed(frames_with(good, 5, "{\"a\":1} trailing"), "content frame");
  check_malformed(frames_with(frames_with(good, 5, "{"), 3, "{"), "parent_header frame");  // first bad one named
  check_malformed(frames_with(good, 2, "[]"), "header must be a JSON object");
  check_malformed(frames_with(good, 3, "null"), "parent_header must be a JSON object");
  check_malformed(frames_with(good, 4, "\"text\""), "metadata must be a JSON object");
  check_malformed(frames_with(good, 5, "[1,2]"), "content must be a JSON object");
  check_malformed(frames_with(good, 2, R"({"msg_type":"x"})"), "msg_id");
  check_malformed(frames_with(good, 2, R"({"msg_id":"1","msg_type":7})"), "msg_type");
  check_malformed(frames_with(good, 5, std::string(100000, '[') + std::string(100000, ']')), "levels deep");
}

TEST_CASE("nesting up to the limit is fine; brackets inside strings do not count") {
  const kg::signer none;
  auto frames = kg::encode_zmq(sample_message(), none);
  frames[5] = "{\"a\":" + std::string(998, '[') + std::string(998, ']') + ",\"s\":\"" + std::string(5000, '{') + "\\\"\"}";
  const auto d = kg::decode_zmq(frames, none, kg::channel::shell);
  CHECK(d.msg.content.at("s").get<std::string>().size() == 5001);
}

TEST_CASE("a message no peer could accept is refused before it is sent") {
  const kg::signer sign("k");
  kg::message empty;  // no msg_id, no msg_type
  auto e = kgtest::error_from([&] { (void)kg::encode_zmq(empty, sign); });
  CHECK(e.condition() == kg::errc::invalid_argument);
  CHECK(std::string(e.what()).find("msg_id") != std::string::npos);

  kg::message m = sample_message();
  m.content = json::array();
  e = kgtest::error_from([&] { (void)kg::encode_zmq(m, sign); });
  CHECK(e.condition() == kg::errc::invalid_argument);
  CHECK(std::string(e.what()).find("content must be a JSON object") != std::string::npos);

  m = sample_message();
  m.header["msg_type"] = 3;
  CHECK(kgtest::error_from([&] { (void)kg::encode_zmq(std::move(m), sign); }).condition() ==
        kg::errc::invalid_argument);
}

TEST_CASE("non-finite numbers, which JSON cannot hold, are written as null") {
  kg::message m = sample_message();
  m.content["nan"] = std::numeric_limits<double>::quiet_NaN();
  m.content["inf"] = -std::numeric_limits<double>::infinity();
  const auto frames = kg::encode_zmq(m, kg::signer());
  const auto d = kg::decode_zmq(frames, kg::signer(), kg::channel::shell);
  CHECK(d.msg.content.at("nan").is_null());
  CHECK(d.msg.content.at("inf").is_null());
}

TEST_CASE("invalid UTF-8 in an outgoing message follows the chosen policy") {
  kg::message m = sample_message();
  m.content["text"] = "ok \xff\xfe end";
  const kg::signer sign("k");

  const auto replaced = kg::encode_zmq(m, sign);
  CHECK(replaced[5].find("ok \xef\xbf\xbd") != std::string::npos);
  const auto d = kg::decode_zmq(replaced, sign, kg::channel::shell);
  CHECK(d.msg.content.at("text").get<std::string>().starts_with("ok \xef\xbf\xbd"));

  m.content["text"] = "a\xff" "b\xe2\x82" "c\xed\xa0\x80" "d";
  const std::string r = "\xef\xbf\xbd";
  CHECK(kg::decode_zmq(kg::encode_zmq(m, sign), sign, kg::channel::shell).msg.content.at("text") ==
        "a" + r + "b" + r + "c" + r + r + r + "d");

  const auto e = kgtest::error_from([&] { (void)kg::encode_zmq(m, sign, {}, kg::invalid_utf8::reject); });
  CHECK(e.condition() == kg::errc::invalid_argument);
  CHECK(std::string(e.what()).find("content") != std::string::npos);
  CHECK(std::string(e.what()).find("UTF-8") != std::string::npos);
}

TEST_CASE("invalid UTF-8 in received JSON is replaced as jupyter_client replaces it, or refused") {
  const kg::signer none;
  auto frames = kg::encode_zmq(sample_message(), none);
  // Lone bytes, truncated sequences, a surrogate, an overlong form, past U+10FFFF, a cut-off emoji:
  // one U+FFFD per maximal ill-formed subsequence (Unicode 3.9), as Python's "replace" gives.
  frames[5] = "{\"t\":\"a\xff" "b\xe2\x82" "c\xed\xa0\x80" "d\xc0\xaf" "e\xf4\x90\x80\x80" "f\xf0\x9f\x98" "g\xe2\x82\"}";
  const std::string r = "\xef\xbf\xbd";
  const auto d = kg::decode_zmq(frames, none, kg::channel::shell);
  CHECK(d.msg.content.at("t") == "a" + r + "b" + r + "c" + r + r + r + "d" + r + r + "e" + r + r + r + r + "f" + r + "g" + r);

  frames[5] = "{\"t\":\"fine \xc3\xa9 \xf0\x9f\x98\x80\"}";
  CHECK(kg::decode_zmq(frames, none, kg::channel::shell).msg.content.at("t") == "fine \u00e9 \U0001F600");

  frames[5] = "{\"bad utf8\":\"\xff\xfe\"}";
  const auto e = kgtest::error_from(
      [&] { (void)kg::decode_zmq(frames, none, kg::channel::shell, nullptr, kg::invalid_utf8::reject); });
  CHECK(e.condition() == kg::errc::malformed_message);
  CHECK(std::string(e.what()).find("content frame (17 bytes) is not valid JSON: the text is not valid UTF-8 at byte 13") !=
        std::string::npos);
}

namespace {

// kernelgate's reader must agree with nlohmann's parser: same value, or both refuse.
void check_agrees_with_nlohmann(const std::string& text) {
  CAPTURE(text);
  bool reference_ok = true;
  json reference;
  try {
    reference = json::parse(text);
  } catch (const json::exception&) {
    reference_ok = false;
  }
  bool ours_ok = true;
  json ours;
  try {
    ours = kg::detail::parse_json(text, "test text", kg::invalid_utf8::reject);
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::malformed_message);
    ours_ok = false;
  }
  REQUIRE(ours_ok == reference_ok);
  if (ours_ok) {
    CHECK(ours == reference);
    CHECK(ours.dump() == reference.dump());  // same number types too (int64 / uint64 / double)
  }
}

}  // namespace

TEST_CASE("the JSON reader gives nlohmann's values and refuses what nlohmann refuses") {
  const char* cases[] = {
      // valid
      "{}", "[]", " \t\r\n{ \"a\" : [ 1 , 2 ] } \n", "0", "-0", "-0.0", "1", "-1", "123456789012",
      "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
      "18446744073709551615", "18446744073709551616", "1e2", "1E-2", "1.5e+300", "2.2250738585072014e-308",
      "4.9e-324", "1e-400", "0.1", "3.141592653589793", "1.7976931348623157e308", "true", "false", "null",
      R"("\"\\\/\b\f\n\r\t")", R"("\u0000\u001f\u00e9\u2603\uD83D\uDE00")", "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"",
      R"({"a":1,"a":2})", R"({"b":{"c":[{"d":null}]}})", R"(["\ud7ff","\ue000","\uFFFF"])",
      // invalid
      "", " ", "{", "}", "[1,]", "[,1]", "{\"a\":1,}", "{\"a\" 1}", "{1:2}", "{\"a\":}", "01", "-", "+1", "1.",
      ".5", "1e", "1e+", "0x10", "NaN", "Infinity", "-Infinity", "1e400", "-1e400", "tru", "nul", "True",
      "\"unterminated", "\"bad \\x escape\"", "\"\\u12\"", "\"\\uZZZZ\"", "\"tab\there\"", "\"nl\nhere\"",
      "[1] [2]", "{} x", "'single'", R"("\ud800")", R"("\udc00")", R"("\ud800\u0041")", "\"\xff\"",
      "\"\xc3\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "/* comment */ 1", "[1 2]",
  };
  for (const char* text : cases) check_agrees_with_nlohmann(text);
}

TEST_CASE("the JSON reader agrees with nlohmann on random documents and their mutations") {
  std::mt19937 rng(20261128);
  const auto random_value = [&](auto&& self, int depth) -> json {
    switch (std::uniform_int_distribution<int>(0, depth > 4 ? 4 : 7)(rng)) {
      case 0: return nullptr;
      case 1: return std::uniform_int_distribution<int>(0, 1)(rng) == 1;
      case 2:
        if (std::uniform_int_distribution<int>(0, 1)(rng) == 1) return std::uniform_int_distribution<std::uint64_t>()(rng);
        return std::uniform_int_distribution<std::int64_t>(INT64_MIN, INT64_MAX)(rng);
      case 3: {
        const double scale = std::pow(10.0, std::uniform_int_distribution<int>(-320, 300)(rng));
        return std::uniform_real_distribution<double>(-1, 1)(rng) * scale;
      }
      case 4: {
        std::string s;
        const char alphabet[] = "ab \"\\/\n\t\x01\x7f\xc3\xa9\xe2\x98\x83";
        const int n = std::uniform_int_distribution<int>(0, 12)(rng);
        for (int i = 0; i < n; ++i) {
          const int k = std::uniform_int_distribution<int>(0, 10)(rng);
          if (k >= 8) {
            s += k == 8 ? "\xc3\xa9" : k == 9 ? "\xe2\x98\x83" : "\xf0\x9f\x98\x80";
          } else {
            s += alphabet[k];
          }
        }
        return s;
      }
      case 5:
      case 6: {
        json arr = json::array();
        const int n = std::uniform_int_distribution<int>(0, 4)(rng);
        for (int i = 0; i < n; ++i) arr.push_back(self(self, depth + 1));
        return arr;
      }
      default: {
        json obj = json::object();
        const int n = std::uniform_int_distribution<int>(0, 4)(rng);
        for (int i = 0; i < n; ++i) obj["k" + std::to_string(std::uniform_int_distribution<int>(0, 5)(rng))] = self(self, depth + 1);
        return obj;
      }
    }
  };
  const std::string mutations = "{}[],:\"\\ 0123456789-+.eEtrufalsn\x01\xff";
  for (int i = 0; i < 300; ++i) {
    const json value = random_value(random_value, 0);
    // The writer gives nlohmann's bytes exactly.
    CHECK(kg::detail::dump_json(value, kg::invalid_utf8::reject, "test value") == value.dump());
    const std::string text = value.dump(std::uniform_int_distribution<int>(0, 1)(rng) ? 2 : -1);
    check_agrees_with_nlohmann(text);
    for (int m = 0; m < 5 && !text.empty(); ++m) {
      std::string mutated = text;
      const std::size_t at = std::uniform_int_distribution<std::size_t>(0, mutated.size() - 1)(rng);
      const char with = mutations[std::uniform_int_distribution<std::size_t>(0, mutations.size() - 1)(rng)];
      switch (std::uniform_int_distribution<int>(0, 2)(rng)) {
        case 0: mutated[at] = with; break;
        case 1: mutated.insert(at, 1, with); break;
        default: mutated.erase(at, 1); break;
      }
      check_agrees_with_nlohmann(mutated);
    }
  }
}

TEST_CASE("random and mutated frame lists either decode or fail with a kernelgate::error") {
  std::mt19937 rng(11);
  const kg::signer none;
  kg::message m = sample_message();
  m.buffers = {"buf"};
  const std::vector<std::string> ids{"topic"};
  const auto seed = kg::encode_zmq(m, none, ids);
  kgtest::decode_tally tally;
  for (int i = 0; i < 3000; ++i) {
    auto frames = seed;
    const int edits = std::uniform_int_distribution<int>(1, 3)(rng);
    for (int e = 0; e < edits; ++e) {
      if (frames.empty()) break;
      const std::size_t which = std::uniform_int_distribution<std::size_t>(0, frames.size() - 1)(rng);
      std::string& f = frames[which];
      switch (std::uniform_int_distribution<int>(0, 3)(rng)) {
        case 0: frames.erase(frames.begin() + static_cast<std::ptrdiff_t>(which)); break;
        case 1:
          if (!f.empty()) f[std::uniform_int_distribution<std::size_t>(0, f.size() - 1)(rng)] =
              static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
          break;
        case 2: f.resize(f.size() / 2); break;
        default: frames.insert(frames.begin() + static_cast<std::ptrdiff_t>(which), f); break;
      }
    }
    tally.attempt([&] { (void)kg::decode_zmq(frames, none, kg::channel::iopub); });
  }
  tally.check_both_seen();
}

TEST_CASE("several threads decoding with one replay_guard: a shared message is accepted exactly once") {
  const kg::signer sign("k");
  kg::replay_guard guard;
  const auto shared = kg::encode_zmq(sample_message(), sign);
  constexpr int threads = 4;
  constexpr int per_thread = 200;
  std::vector<std::vector<std::vector<std::string>>> own(threads);
  for (auto& list : own) {
    for (int i = 0; i < per_thread; ++i) list.push_back(kg::encode_zmq(sample_message(), sign));
  }
  std::vector<int> accepted_shared(threads, 0);
  std::vector<int> accepted_own(threads, 0);
  std::vector<int> unexpected(threads, 0);
  {
    std::vector<std::jthread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        for (int i = 0; i < per_thread; ++i) {
          (void)kg::decode_zmq(own[t][i], sign, kg::channel::iopub, &guard);
          ++accepted_own[t];
          try {
            (void)kg::decode_zmq(shared, sign, kg::channel::iopub, &guard);
            ++accepted_shared[t];
          } catch (const kg::error& e) {
            if (e.condition() != kg::errc::replayed_message) ++unexpected[t];
          }
        }
      });
    }
  }
  int shared_total = 0;
  for (int t = 0; t < threads; ++t) {
    CHECK(accepted_own[t] == per_thread);
    CHECK(unexpected[t] == 0);
    shared_total += accepted_shared[t];
  }
  CHECK(shared_total == 1);
  CHECK(guard.size() == threads * per_thread + 1);
}
