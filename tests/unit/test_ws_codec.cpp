#include <doctest/doctest.h>

#include "kernelgate/error.hpp"
#include "kernelgate/wire/ws_codec.hpp"
#include "wire_support.hpp"

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace kg = kernelgate;
using json = nlohmann::json;
using namespace std::literals;

namespace {

const kg::session_identity who{.session = "0123abcd-4567890123456789abcdef01", .username = "tester"};

kg::message sample_message(kg::channel chan = kg::channel::shell) {
  kg::message m = kg::make_message("comm_msg", {{"comm_id", "c"}, {"data", {{"text", "\u00e9\u2603"}}}}, who, chan);
  m.metadata = {{"cellId", "c1"}};
  m.header["x_unknown"] = json::array({1, "two"});
  return m;
}

std::uint64_t le64_at(std::string_view s, std::size_t at) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

std::string le64(std::uint64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>((v >> 16) & 0xff), static_cast<char>((v >> 8) & 0xff),
          static_cast<char>(v & 0xff)};
}

// A v1 frame built by hand from its parts.
std::string v1_frame(const std::vector<std::string>& parts) {
  const std::size_t count = parts.size() + 1;
  std::string out = le64(count);
  std::uint64_t at = 8 * (count + 1);
  out += le64(at);
  for (const auto& p : parts) out += le64(at += p.size());
  for (const auto& p : parts) out += p;
  return out;
}

const std::string header_json = R"({"msg_id":"m1","msg_type":"status"})";

}  // namespace

TEST_CASE("v1 frames: layout, round trip with buffers on every channel") {
  for (const auto chan : {kg::channel::shell, kg::channel::control, kg::channel::iopub, kg::channel::input}) {
    CAPTURE(kg::to_string(chan));
    kg::message m = sample_message(chan);
    m.buffers = {"\x00\xff"s, "", "third"};
    const std::string frame = kg::encode_ws_v1(m);

    const std::uint64_t count = le64_at(frame, 0);
    REQUIRE(count == 2 + 4 + 3);
    CHECK(le64_at(frame, 8) == 8 * (count + 1));
    CHECK(le64_at(frame, 8 * count) == frame.size());
    const std::string_view name = kg::to_string(chan);
    CHECK(frame.substr(8 * (count + 1), name.size()) == name);
    CHECK(frame.substr(le64_at(frame, 16), le64_at(frame, 24) - le64_at(frame, 16)) == m.header.dump());

    kgtest::check_same_message(kg::decode_ws_v1(frame), m);
    const kg::ws_frame generic = kg::encode_ws(m, kg::ws_protocol::v1);
    CHECK(generic.kind == kg::ws_frame_kind::binary);
    CHECK(generic.payload == frame);
    kgtest::check_same_message(kg::decode_ws(kg::ws_frame_kind::binary, frame, kg::ws_protocol::v1), m);
  }
}

TEST_CASE("legacy frames: JSON text without buffers, binary with them") {
  kg::message m = sample_message(kg::channel::iopub);
  const kg::ws_frame text = kg::encode_ws(m, kg::ws_protocol::legacy);
  CHECK(text.kind == kg::ws_frame_kind::text);
  const json parsed = json::parse(text.payload);
  CHECK(parsed.at("channel") == "iopub");
  CHECK(parsed.at("header") == m.header);
  CHECK(parsed.at("content") == m.content);
  CHECK(text.payload == parsed.dump());  // compact, sorted, UTF-8 unescaped
  kgtest::check_same_message(kg::decode_ws(text.kind, text.payload, kg::ws_protocol::legacy), m);

  m.buffers = {"buf-one", "\x00\x01"s};
  const kg::ws_frame binary = kg::encode_ws(m, kg::ws_protocol::legacy);
  CHECK(binary.kind == kg::ws_frame_kind::binary);
  CHECK(binary.payload.substr(0, 4) == be32(3));
  CHECK(binary.payload.substr(4, 4) == be32(16));
  kgtest::check_same_message(kg::decode_ws(binary.kind, binary.payload, kg::ws_protocol::legacy), m);
  CHECK(kg::decode_ws_legacy_binary(binary.payload).buffers == m.buffers);
}

TEST_CASE("legacy JSON: missing channel means shell; extra top-level fields are ignored") {
  const std::string text = R"({"header":{"msg_id":"1","msg_type":"status","z":1},"parent_header":{},"metadata":{},)"
                           R"("content":{"execution_state":"idle"},"msg_id":"1","msg_type":"status","buffers":[]})";
  const kg::message m = kg::decode_ws_legacy_text(text);
  CHECK(m.chan == kg::channel::shell);
  CHECK(m.header.at("z") == 1);
  CHECK(m.content.at("execution_state") == "idle");
}

TEST_CASE("the heartbeat channel cannot be sent over a WebSocket") {
  const kg::message m = sample_message(kg::channel::heartbeat);
  for (const auto protocol : {kg::ws_protocol::v1, kg::ws_protocol::legacy}) {
    CHECK(kgtest::error_from([&] { (void)kg::encode_ws(m, protocol); }).condition() == kg::errc::invalid_argument);
  }
}

TEST_CASE("a message no peer could accept is refused in every WebSocket form") {
  kg::message m = sample_message();
  m.parent_header = nullptr;
  for (const auto protocol : {kg::ws_protocol::v1, kg::ws_protocol::legacy}) {
    const auto e = kgtest::error_from([&] { (void)kg::encode_ws(m, protocol); });
    CHECK(e.condition() == kg::errc::invalid_argument);
    CHECK(std::string(e.what()).find("parent_header must be a JSON object") != std::string::npos);
  }
  m.buffers = {"b"};
  CHECK(kgtest::error_from([&] { (void)kg::encode_ws(m, kg::ws_protocol::legacy); }).condition() ==
        kg::errc::invalid_argument);
}

TEST_CASE("invalid UTF-8 follows the policy in WebSocket frames too") {
  kg::message m = sample_message();
  m.content["text"] = "\xc3";
  CHECK(kg::decode_ws_v1(kg::encode_ws_v1(m)).content.at("text") == "\xef\xbf\xbd");
  CHECK(kgtest::error_from([&] { (void)kg::encode_ws_v1(m, kg::invalid_utf8::reject); }).condition() ==
        kg::errc::invalid_argument);
  CHECK(kgtest::error_from([&] { (void)kg::encode_ws_legacy_text(m, kg::invalid_utf8::reject); }).condition() ==
        kg::errc::invalid_argument);
}

TEST_CASE("malformed v1 frames are refused with malformed_message") {
  const auto check_malformed = [](const std::string& frame, std::string_view needle) {
    const auto e = kgtest::error_from([&] { (void)kg::decode_ws_v1(frame); });
    CHECK(e.condition() == kg::errc::malformed_message);
    CHECK_MESSAGE(std::string(e.what()).find(needle) != std::string::npos, std::string(e.what()));
  };
  const std::vector<std::string> good_parts{"shell", header_json, "{}", "{}", "{}"};
  const std::string good = v1_frame(good_parts);
  REQUIRE_NOTHROW((void)kg::decode_ws_v1(good));

  check_malformed("", "fewer than the 8");
  check_malformed("\x01\x02\x03", "fewer than the 8");
  check_malformed(le64(5) + std::string(64, '\0'), "at least 6");
  check_malformed(le64(UINT64_MAX) + std::string(64, '\0'), "more than its");
  check_malformed(le64(1ULL << 61) + std::string(64, '\0'), "more than its");
  check_malformed(good.substr(0, 40), "more than its");
  check_malformed(good.substr(0, good.size() - 1), "past the end");
  check_malformed(good + "x", "not the frame's length");
  {
    std::string bad = good;
    bad.replace(8, 8, le64(8));  // first offset inside the table
    check_malformed(bad, "offset table");
  }
  {
    std::string bad = good;
    bad.replace(24, 8, le64(le64_at(good, 32) + 1));  // offset 2 after offset 3
    check_malformed(bad, "is before offset");
  }
  check_malformed(v1_frame({"nonsense", header_json, "{}", "{}", "{}"}), "unknown channel \"nonsense\"");
  check_malformed(v1_frame({"hb", header_json, "{}", "{}", "{}"}), "unknown channel");
  check_malformed(v1_frame({"shell", "{", "{}", "{}", "{}"}), "header part");
  check_malformed(v1_frame({"shell", header_json, "{}", "{}", "[]"}), "content must be a JSON object");
  check_malformed(v1_frame({"shell", "{}", "{}", "{}", "{}"}), "msg_id");
  const auto e = kgtest::error_from([&] { (void)kg::decode_ws(kg::ws_frame_kind::text, good, kg::ws_protocol::v1); });
  CHECK(e.condition() == kg::errc::malformed_message);
  CHECK(std::string(e.what()).find("text frame") != std::string::npos);
}

TEST_CASE("v1 frames with empty parts and buffers decode as the reference slices them") {
  const kg::message m = kg::decode_ws_v1(v1_frame({"iopub", header_json, "{}", "{}", "{}", "", "b2"}));
  CHECK(m.chan == kg::channel::iopub);
  CHECK(m.buffers == std::vector<std::string>{"", "b2"});
}

TEST_CASE("malformed legacy frames are refused with malformed_message") {
  const auto check_text = [](const std::string& frame, std::string_view needle) {
    const auto e = kgtest::error_from([&] { (void)kg::decode_ws_legacy_text(frame); });
    CHECK(e.condition() == kg::errc::malformed_message);
    CHECK_MESSAGE(std::string(e.what()).find(needle) != std::string::npos, std::string(e.what()));
  };
  const std::string rest = R"("parent_header":{},"metadata":{},"content":{})";
  check_text("", "not valid JSON");
  check_text("[1]", "must be an object");
  check_text(R"({"header":)" + header_json + "}", "no \"parent_header\"");
  check_text(R"({"parent_header":{},"metadata":{},"content":{}})", "no \"header\"");
  check_text(R"({"header":)" + header_json + R"(,"parent_header":{},"content":{}})", "no \"metadata\"");
  check_text(R"({"channel":7,"header":)" + header_json + "," + rest + "}", "must be a string");
  check_text(R"({"channel":"web","header":)" + header_json + "," + rest + "}", "unknown channel");
  check_text(R"({"header":"text",)" + rest + "}", "header must be a JSON object");

  const auto check_binary = [](const std::string& frame, std::string_view needle) {
    const auto e = kgtest::error_from([&] { (void)kg::decode_ws_legacy_binary(frame); });
    CHECK(e.condition() == kg::errc::malformed_message);
    CHECK_MESSAGE(std::string(e.what()).find(needle) != std::string::npos, std::string(e.what()));
  };
  const std::string json_part = R"({"header":)" + header_json + "," + rest + "}";
  const std::string good = be32(2) + be32(12) + be32(12 + static_cast<std::uint32_t>(json_part.size())) + json_part + "buf";
  REQUIRE(kg::decode_ws_legacy_binary(good).buffers == std::vector<std::string>{"buf"});
  check_binary("", "fewer than the 4");
  check_binary(be32(0) + "xxxx", "0 parts");
  check_binary(be32(0x7fffffff) + "xxxx", "more offsets than");
  check_binary(be32(0xffffffff) + "xxxx", "more offsets than");
  check_binary(be32(1) + be32(4) + json_part, "offset table");
  check_binary(be32(1) + be32(9999) + json_part, "past the end");
  check_binary(be32(2) + be32(12) + be32(11) + json_part, "is before offset");
  check_binary(be32(1) + be32(8) + "{not json", "not valid JSON");
}

TEST_CASE("random and mutated frames either decode or fail with a kernelgate::error") {
  std::mt19937 rng(7);
  kg::message m = sample_message(kg::channel::iopub);
  m.buffers = {"abc", std::string(40, '\0')};
  const std::vector<std::string> seeds = {kg::encode_ws_v1(m), kg::encode_ws_legacy_binary(m),
                                          kg::encode_ws_legacy_text(m)};
  kgtest::decode_tally tally;
  for (int i = 0; i < 3000; ++i) {
    std::string frame = seeds[static_cast<std::size_t>(i) % seeds.size()];
    const int edits = std::uniform_int_distribution<int>(1, 4)(rng);
    for (int e = 0; e < edits && !frame.empty(); ++e) {
      const std::size_t at = std::uniform_int_distribution<std::size_t>(0, frame.size() - 1)(rng);
      switch (std::uniform_int_distribution<int>(0, 3)(rng)) {
        case 0: frame[at] = static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng)); break;
        case 1: frame.resize(at); break;
        case 2: frame.insert(at, 1, static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng))); break;
        default: frame[at] = static_cast<char>(frame[at] ^ 0x80); break;
      }
    }
    for (const auto protocol : {kg::ws_protocol::v1, kg::ws_protocol::legacy}) {
      for (const auto kind : {kg::ws_frame_kind::binary, kg::ws_frame_kind::text}) {
        tally.attempt([&] { (void)kg::decode_ws(kind, frame, protocol); });
      }
    }
  }
  tally.check_both_seen();
}
