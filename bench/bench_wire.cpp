// bench_wire: kernelgate's wire codecs against jupyter_client's Session and jupyter_server's v1
// serializer doing the same work, measured side by side in one run.
//
// For each message shape (a typical execute_request; a 50 KB stream output) and each operation
// (ZeroMQ encode = serialize + HMAC-SHA256, ZeroMQ decode = verify + replay check + parse; WebSocket
// v1 encode / decode), it prints one JSON line with the median microseconds per message of both,
// and the ratio kernelgate / peer (below 1 means kernelgate is faster).
//
// Usage: bench_wire [batches] [messages_per_batch]   (defaults 200 100)

#include <kernelgate/wire/ws_codec.hpp>
#include <kernelgate/wire/zmq_codec.hpp>

#include "bench_support.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace kg = kernelgate;
using namespace kgbench;

namespace {

const std::string key = "bench-key-0123456789abcdef0123456789abcdef";

std::vector<kg::message> messages(const kg::session_identity& who, const std::string& kind, int count) {
  std::vector<kg::message> out;
  for (int i = 0; i < count; ++i) {
    if (kind == "execute_request") {
      out.push_back(kg::make_message(
          "execute_request",
          {{"code", "import numpy as np\nx = np.arange(10)\nprint(x.sum())  # caf\u00e9"}, {"silent", false},
           {"store_history", true}, {"user_expressions", nlohmann::json::object()}, {"allow_stdin", false},
           {"stop_on_error", true}},
          who, kg::channel::shell));
    } else {
      std::string text;
      for (int line = 0; line < 3000; ++line) text += "line of output " + std::to_string(i) + "\n";
      out.push_back(kg::make_message("stream", {{"name", "stdout"}, {"text", text}}, who, kg::channel::iopub));
    }
  }
  return out;
}

// Median microseconds per item over `batches` batches; make_batch() runs outside the timing.
template <class MakeBatch, class Op>
double timed(int batches, MakeBatch make_batch, Op op) {
  std::vector<double> per_op;
  for (int b = 0; b < batches; ++b) {
    auto items = make_batch();
    const auto start = std::chrono::steady_clock::now();
    for (auto& item : items) op(item);
    const std::chrono::duration<double, std::micro> took = std::chrono::steady_clock::now() - start;
    per_op.push_back(took.count() / static_cast<double>(items.size()));
  }
  return median(per_op);
}

// wire_peer.py prints one JSON line per metric with its median microseconds per message.
std::map<std::string, double> run_peer(int batches, int per_batch) {
  const auto script = std::filesystem::path(__FILE__).parent_path() / "wire_peer.py";
  std::istringstream lines(
      run_peer_to_end({"/usr/bin/python3", script.string(), std::to_string(batches), std::to_string(per_batch)}));
  std::map<std::string, double> out;
  for (std::string line; std::getline(lines, line);) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("metric")) out[j.at("metric").get<std::string>()] = j.at("median_us").get<double>();
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const int batches = argc > 1 ? std::stoi(argv[1]) : 200;
  const int per_batch = argc > 2 ? std::stoi(argv[2]) : 100;
  const kg::signer sign(key);
  const kg::session_identity who;

  std::map<std::string, double> ours;
  for (const std::string kind : {"execute_request", "stream_50k"}) {
    const auto msgs = messages(who, kind, per_batch);
    volatile std::size_t sink = 0;
    ours["zmq_encode_" + kind] = timed(batches, [&] { return msgs; },
                                       [&](const kg::message& m) { sink = sink + kg::encode_zmq(m, sign).size(); });
    kg::replay_guard guard;
    ours["zmq_decode_" + kind] = timed(
        batches,
        [&] {
          std::vector<std::vector<std::string>> frames;
          for (const auto& m : messages(who, kind, per_batch)) frames.push_back(kg::encode_zmq(m, sign));
          return frames;
        },
        [&](const std::vector<std::string>& f) {
          sink = sink + kg::decode_zmq(f, sign, kg::channel::shell, &guard).msg.buffers.size();
        });
    ours["ws_v1_encode_" + kind] =
        timed(batches, [&] { return msgs; }, [&](const kg::message& m) { sink = sink + kg::encode_ws_v1(m).size(); });
    std::vector<std::string> v1_frames;
    for (const auto& m : msgs) v1_frames.push_back(kg::encode_ws_v1(m));
    ours["ws_v1_decode_" + kind] = timed(batches, [&] { return v1_frames; },
                                         [&](const std::string& f) { sink = sink + kg::decode_ws_v1(f).buffers.size(); });
  }

  const auto peer = run_peer(batches, per_batch);
  int status = 0;
  for (const auto& [metric, value] : ours) {
    const auto it = peer.find(metric);
    if (it == peer.end()) {
      std::cerr << "bench_wire: wire_peer.py gave no figure for " << metric << "\n";
      status = 1;
      continue;
    }
    const bool zmq = metric.starts_with("zmq_");
    print_metric({.name = metric, .ours = value, .peer = it->second,
                  .peer_name = zmq ? "jupyter_client 7.4.9 Session (serialize / feed_identities+deserialize)"
                                   : "jupyter_server 1.23.3 serialize_msg_to_ws_v1 / deserialize_msg_from_ws_v1 "
                                     "+ Session.pack/unpack",
                  .unit = "us/message", .samples = static_cast<std::size_t>(batches)});
  }
  return status;
}
