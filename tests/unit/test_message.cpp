#include <doctest/doctest.h>

#include "kernelgate/wire/message.hpp"

#include <chrono>
#include <ctime>
#include <regex>
#include <set>
#include <string>

namespace kg = kernelgate;
using json = nlohmann::json;

namespace {

// Seconds since the epoch of an ISO 8601 UTC timestamp "YYYY-MM-DDTHH:MM:SS.ffffffZ".
long long epoch_seconds(const std::string& iso) {
  std::tm tm{};
  tm.tm_year = std::stoi(iso.substr(0, 4)) - 1900;
  tm.tm_mon = std::stoi(iso.substr(5, 2)) - 1;
  tm.tm_mday = std::stoi(iso.substr(8, 2));
  tm.tm_hour = std::stoi(iso.substr(11, 2));
  tm.tm_min = std::stoi(iso.substr(14, 2));
  tm.tm_sec = std::stoi(iso.substr(17, 2));
  return static_cast<long long>(timegm(&tm));
}

}  // namespace

TEST_CASE("channel names are the protocol's, both ways") {
  const std::pair<kg::channel, const char*> names[] = {
      {kg::channel::shell, "shell"}, {kg::channel::control, "control"}, {kg::channel::iopub, "iopub"},
      {kg::channel::input, "stdin"}, {kg::channel::heartbeat, "hb"},
  };
  for (const auto& [chan, name] : names) {
    CHECK(kg::to_string(chan) == name);
    CHECK(kg::channel_from_string(name) == chan);
  }
  CHECK_FALSE(kg::channel_from_string("input").has_value());
  CHECK_FALSE(kg::channel_from_string("Shell").has_value());
  CHECK_FALSE(kg::channel_from_string("").has_value());
}

TEST_CASE("header dates are ISO 8601 UTC with microseconds and Z, and are now") {
  const std::regex iso(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)");
  const auto before = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string now = kg::iso8601_now();
  const auto after = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
  CHECK(std::regex_match(now, iso));
  CHECK(epoch_seconds(now) >= before);
  CHECK(epoch_seconds(now) <= after);

  const json h = kg::make_header("kernel_info_request", kg::session_identity{});
  CHECK(std::regex_match(h.at("date").get<std::string>(), iso));
}

TEST_CASE("make_header fills every field the protocol requires") {
  const kg::session_identity who{.session = "abcd1234-0000", .username = "alice"};
  const json h = kg::make_header("execute_request", who);
  CHECK(h.at("msg_type") == "execute_request");
  CHECK(h.at("session") == "abcd1234-0000");
  CHECK(h.at("username") == "alice");
  CHECK(h.at("version") == std::string(kg::protocol_version));
  const std::string id = h.at("msg_id");
  CHECK(id.starts_with("abcd1234-0000_"));

  // Unique over many calls in a row.
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.insert(kg::make_header("x", who).at("msg_id").get<std::string>());
  CHECK(ids.size() == 1000);
}

TEST_CASE("session ids and random ids have jupyter_client's shape and do not repeat") {
  const std::regex session_shape("[0-9a-f]{8}-[0-9a-f]{24}");
  const std::regex hex32("[0-9a-f]{32}");
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string s = kg::session_identity::new_session_id();
    CHECK(std::regex_match(s, session_shape));
    const std::string r = kg::random_hex_id();
    CHECK(std::regex_match(r, hex32));
    seen.insert(s);
    seen.insert(r);
  }
  CHECK(seen.size() == 200);
  CHECK(kg::session_identity{}.session != kg::session_identity{}.session);
  CHECK(kg::session_identity{}.username == "kernelgate");
}

TEST_CASE("make_message builds a request, or a reply carrying its parent's header") {
  const kg::session_identity who;
  const kg::message request = kg::make_message("execute_request", {{"code", "1+1"}}, who, kg::channel::shell);
  CHECK(request.msg_type() == "execute_request");
  CHECK(request.msg_id() == request.header.at("msg_id"));
  CHECK(request.parent_msg_id().empty());
  CHECK(request.parent_header == json::object());
  CHECK(request.metadata == json::object());
  CHECK(request.content.at("code") == "1+1");
  CHECK(request.chan == kg::channel::shell);
  CHECK(request.buffers.empty());

  const kg::message reply = kg::make_message("input_reply", {{"value", "x"}}, who, kg::channel::input, &request);
  CHECK(reply.parent_header == request.header);
  CHECK(reply.parent_msg_id() == request.msg_id());
  CHECK(reply.msg_id() != request.msg_id());
  CHECK(reply.chan == kg::channel::input);

  // Null content becomes the empty object the protocol expects.
  CHECK(kg::make_message("kernel_info_request", nullptr, who, kg::channel::control).content == json::object());
}

TEST_CASE("message accessors tolerate missing or mistyped fields") {
  kg::message m;
  CHECK(m.msg_type().empty());
  CHECK(m.msg_id().empty());
  CHECK(m.parent_msg_id().empty());
  m.header = {{"msg_type", 7}, {"msg_id", nullptr}};
  m.parent_header = json::array();
  CHECK(m.msg_type().empty());
  CHECK(m.msg_id().empty());
  CHECK(m.parent_msg_id().empty());
  m.header = "not an object";
  CHECK(m.msg_type().empty());
}
