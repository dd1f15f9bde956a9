// Golden vectors made by the reference implementations (jupyter_client's Session, jupyter_server's
// WebSocket serializers) by protocol/generate_vectors.py. No Python is needed here: the vectors are
// data in protocol/.

#include <doctest/doctest.h>

#include "kernelgate/error.hpp"
#include "kernelgate/wire/ws_codec.hpp"
#include "kernelgate/wire/zmq_codec.hpp"
#include "support.hpp"
#include "wire_support.hpp"

#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace kg = kernelgate;
using json = nlohmann::json;

namespace {

json load(const char* name) {
  const auto path = std::filesystem::path(KERNELGATE_PROTOCOL_DIR) / name;
  const std::string text = kgtest::read_file(path);
  REQUIRE_MESSAGE(!text.empty(), "missing vector file " << path.string());
  return json::parse(text);
}

std::string from_hex(const std::string& hex) {
  REQUIRE(hex.size() % 2 == 0);
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    FAIL("not a lowercase hex digit: " << c);
    return 0;
  };
  std::string out(hex.size() / 2, '\0');
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<char>(nibble(hex[2 * i]) * 16 + nibble(hex[2 * i + 1]));
  }
  return out;
}

std::vector<std::string> from_hex_list(const json& list) {
  std::vector<std::string> out;
  for (const auto& h : list) out.push_back(from_hex(h.get<std::string>()));
  return out;
}

kg::channel channel_of(const json& v) {
  const auto chan = kg::channel_from_string(v.at("channel").get<std::string>());
  REQUIRE(chan.has_value());
  return *chan;
}

// The message the reference decoded, as kernelgate holds it.
kg::message expected_message(const json& expected, kg::channel chan) {
  kg::message m;
  m.header = expected.at("header");
  m.parent_header = expected.at("parent_header");
  m.metadata = expected.at("metadata");
  m.content = expected.at("content");
  m.buffers = from_hex_list(expected.at("buffers_hex"));
  m.chan = chan;
  return m;
}

}  // namespace

TEST_CASE("ZeroMQ vectors: decode reproduces the reference's dicts; encode reproduces its frames") {
  const json file = load("zmq_vectors.json");
  const json& vectors = file.at("vectors");
  REQUIRE(vectors.size() >= 10);
  std::size_t byte_identical = 0;
  for (const json& v : vectors) {
    const std::string name = v.at("name");
    CAPTURE(name);
    const kg::signer sign(v.at("key").get<std::string>(), v.at("signature_scheme").get<std::string>());
    const kg::channel chan = channel_of(v);
    const auto frames = from_hex_list(v.at("frames_hex"));
    const json& expected = v.at("expected");
    const kg::message want = expected_message(expected, chan);
    const auto want_ids = from_hex_list(expected.at("identities_hex"));

    kg::replay_guard guard;
    const kg::zmq_decoded got = kg::decode_zmq(frames, sign, chan, &guard);
    CHECK(got.identities == want_ids);
    kgtest::check_same_message(got.msg, want);

    const auto encoded = kg::encode_zmq(want, sign, want_ids);
    if (v.at("encode_byte_identical").get<bool>()) {
      ++byte_identical;
      CHECK(encoded == frames);
    } else {
      // The reference's byte layout is not ours (insertion order, spaces, invalid UTF-8 as sent): the
      // frames differ, the message does not.
      CHECK(encoded != frames);
      kgtest::check_same_message(kg::decode_zmq(encoded, sign, chan).msg, want);
    }
  }
  CHECK(byte_identical >= 8);
}

TEST_CASE("ZeroMQ negative vectors fail with the expected error, after the earlier messages pass") {
  const json file = load("zmq_vectors.json");
  const json& cases = file.at("negative");
  REQUIRE(cases.size() >= 12);
  for (const json& c : cases) {
    const std::string name = c.at("name");
    CAPTURE(name);
    const kg::signer sign(c.at("key").get<std::string>(), c.at("signature_scheme").get<std::string>());
    const kg::channel chan = channel_of(c);
    kg::replay_guard guard;
    const json& sequence = c.at("sequence_hex");
    REQUIRE(!sequence.empty());
    for (std::size_t i = 0; i + 1 < sequence.size(); ++i) {
      CHECK_NOTHROW((void)kg::decode_zmq(from_hex_list(sequence[i]), sign, chan, &guard));
    }
    const auto last = from_hex_list(sequence.back());
    std::string what;
    CHECK(kgtest::error_name([&] { (void)kg::decode_zmq(last, sign, chan, &guard); }, &what) ==
          c.at("expected_error").get<std::string>());
    const std::string key = c.at("key");
    if (!key.empty()) CHECK(what.find(key) == std::string::npos);
  }
}

TEST_CASE("WebSocket v1 vectors from jupyter_server: decode matches, encode is byte-identical") {
  const json file = load("ws_vectors.json");
  const json& vectors = file.at("v1");
  REQUIRE(vectors.size() >= 5);
  for (const json& v : vectors) {
    const std::string name = v.at("name");
    CAPTURE(name);
    const std::string frame = from_hex(v.at("frame_hex"));
    const kg::message want = expected_message(v.at("expected"), channel_of(v.at("expected")));
    kgtest::check_same_message(kg::decode_ws(kg::ws_frame_kind::binary, frame, kg::ws_protocol::v1), want);
    REQUIRE(v.at("encode_byte_identical").get<bool>());
    const kg::ws_frame encoded = kg::encode_ws(want, kg::ws_protocol::v1);
    CHECK(encoded.kind == kg::ws_frame_kind::binary);
    CHECK(encoded.payload == frame);
  }
}

TEST_CASE("WebSocket legacy vectors from jupyter_server: decode matches, our encoding decodes the same") {
  const json file = load("ws_vectors.json");
  std::size_t seen_text = 0;
  std::size_t seen_binary = 0;
  for (const char* form : {"legacy_text", "legacy_binary"}) {
    for (const json& v : file.at(form)) {
      const std::string name = std::string(form) + "/" + v.at("name").get<std::string>();
      CAPTURE(name);
      const bool text = std::string(form) == "legacy_text";
      const std::string frame = text ? v.at("frame_text").get<std::string>() : from_hex(v.at("frame_hex"));
      const kg::message want = expected_message(v.at("expected"), channel_of(v.at("expected")));
      const auto kind = text ? kg::ws_frame_kind::text : kg::ws_frame_kind::binary;
      kgtest::check_same_message(kg::decode_ws(kind, frame, kg::ws_protocol::legacy), want);

      // jupyter_server writes with json.dumps defaults (spaces, insertion order): compare meaning.
      const kg::ws_frame encoded = kg::encode_ws(want, kg::ws_protocol::legacy);
      CHECK(encoded.kind == kind);
      kgtest::check_same_message(kg::decode_ws(encoded.kind, encoded.payload, kg::ws_protocol::legacy), want);
      (text ? seen_text : seen_binary) += 1;
    }
  }
  CHECK(seen_text >= 4);
  CHECK(seen_binary >= 2);
}

TEST_CASE("WebSocket negative vectors are refused with malformed_message") {
  const json file = load("ws_vectors.json");
  const json& cases = file.at("negative");
  REQUIRE(cases.size() >= 6);
  for (const json& c : cases) {
    const std::string name = c.at("name");
    CAPTURE(name);
    const auto protocol = c.at("protocol") == "v1" ? kg::ws_protocol::v1 : kg::ws_protocol::legacy;
    const auto kind = c.at("kind") == "text" ? kg::ws_frame_kind::text : kg::ws_frame_kind::binary;
    CHECK(kgtest::error_name([&] { (void)kg::decode_ws(kind, from_hex(c.at("frame_hex")), protocol); }) ==
          c.at("expected_error").get<std::string>());
  }
}

TEST_CASE("captured ipykernel exchanges are well-formed and survive every codec unchanged") {
  const json file = load("messages.json");
  const json& exchanges = file.at("exchanges");
  REQUIRE(exchanges.size() >= 15);
  const kg::signer sign("a-key");
  std::set<std::string> iopub_types;
  for (const json& ex : exchanges) {
    const std::string name = ex.at("name");
    CAPTURE(name);
    const auto chan = kg::channel_from_string(ex.at("channel").get<std::string>());
    REQUIRE(chan.has_value());
    const kg::message request = expected_message(ex.at("request"), *chan);
    const kg::message reply = expected_message(ex.at("reply"), *chan);
    std::vector<kg::message> all{request, reply};

    // Replies answer their request by type and by parent.
    const std::string request_type = request.msg_type();
    REQUIRE(request_type.ends_with("_request"));
    CHECK(reply.msg_type() == request_type.substr(0, request_type.size() - 8) + "_reply");
    CHECK(reply.parent_msg_id() == request.msg_id());
    CHECK(request.parent_msg_id().empty());

    // IOPub output is fenced by busy and idle, all with the request as parent.
    const json& iopub = ex.at("iopub");
    REQUIRE(iopub.size() >= 2);
    for (const json& j : iopub) {
      const kg::message m = expected_message(j, kg::channel::iopub);
      CHECK(m.parent_msg_id() == request.msg_id());
      iopub_types.insert(m.msg_type());
      all.push_back(m);
    }
    CHECK(iopub.front().at("content").at("execution_state") == "busy");
    CHECK(iopub.back().at("content").at("execution_state") == "idle");
    for (const char* key : {"stdin", "client_stdin"}) {
      for (const json& j : ex.value(key, json::array())) all.push_back(expected_message(j, kg::channel::input));
    }

    for (const kg::message& m : all) {
      kgtest::check_same_message(kg::decode_zmq(kg::encode_zmq(m, sign), sign, m.chan).msg, m);
      for (const auto protocol : {kg::ws_protocol::v1, kg::ws_protocol::legacy}) {
        const kg::ws_frame frame = kg::encode_ws(m, protocol);
        kgtest::check_same_message(kg::decode_ws(frame.kind, frame.payload, protocol), m);
      }
    }
  }
  for (const char* type : {"status", "execute_input", "stream", "execute_result", "display_data", "update_display_data",
                           "clear_output", "error"}) {
    CHECK_MESSAGE(iopub_types.count(type) == 1, "no captured IOPub " << type);
  }
}
