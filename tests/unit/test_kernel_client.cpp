// kernel_client over an in-memory transport whose "kernel" is a scripted function: routing by
// msg_id, reply+idle completion, concurrency, stdin, death, rich-output files.

#include "kernelgate/client/kernel_client.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

using namespace std::chrono_literals;
namespace kg = kernelgate;

namespace {

// Delivers whatever the script returns for each sent message, on its own thread (like a real
// transport's I/O thread). The script may also push messages later through deliver().
class fake_transport final : public kg::channel_transport {
 public:
  using script = std::function<std::vector<kg::message>(const kg::message&)>;
  explicit fake_transport(script s) : script_(std::move(s)) {}
  ~fake_transport() override { close_impl(); }

  void deliver(kg::message m) {
    std::lock_guard lk(m_);
    queue_.push_back(std::move(m));
    cv_.notify_all();
  }
  void peer(kg::peer_event ev) {
    std::lock_guard lk(m_);
    events_.push_back(std::move(ev));
    cv_.notify_all();
  }
  std::vector<kg::message> sent() {
    std::lock_guard lk(m_);
    return sent_;
  }

 private:
  void start_impl(kg::transport_handlers h) override {
    handlers_ = std::move(h);
    open_ = true;
    thread_ = std::thread([this] { run(); });
  }
  void send_impl(kg::message msg) override {
    if (!open_) throw kg::error(kg::errc::not_connected, "closed");
    auto replies = script_(msg);
    std::lock_guard lk(m_);
    sent_.push_back(std::move(msg));
    for (auto& r : replies) queue_.push_back(std::move(r));
    cv_.notify_all();
  }
  void close_impl() noexcept override {
    {
      std::lock_guard lk(m_);
      if (stop_) return;
      stop_ = true;
      cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
    open_ = false;
  }
  bool is_open_impl() const noexcept override { return open_; }
  std::string describe_impl() const override { return "fake"; }

  void run() {
    std::unique_lock lk(m_);
    for (;;) {
      cv_.wait(lk, [&] { return stop_ || !queue_.empty() || !events_.empty(); });
      if (stop_) return;
      if (!events_.empty()) {
        auto ev = std::move(events_.front());
        events_.pop_front();
        lk.unlock();
        handlers_.on_peer(ev);
        lk.lock();
        continue;
      }
      auto m = std::move(queue_.front());
      queue_.pop_front();
      lk.unlock();
      handlers_.on_message(std::move(m));
      lk.lock();
    }
  }

  script script_;
  kg::transport_handlers handlers_;
  std::atomic<bool> open_{false};
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<kg::message> queue_;
  std::deque<kg::peer_event> events_;
  std::vector<kg::message> sent_;
  bool stop_ = false;
  std::thread thread_;
};

const kg::session_identity kernel_id;

kg::message from_kernel(const char* type, nlohmann::json content, kg::channel chan, const kg::message& parent) {
  return kg::make_message(type, std::move(content), kernel_id, chan, &parent);
}
kg::message status(const char* state, const kg::message& parent) {
  return from_kernel("status", {{"execution_state", state}}, kg::channel::iopub, parent);
}

// A well-behaved kernel: busy, a stream with the code, reply, idle.
std::vector<kg::message> echo_kernel(const kg::message& req) {
  std::vector<kg::message> out;
  if (req.msg_type() == "execute_request") {
    out.push_back(status("busy", req));
    out.push_back(from_kernel("stream", {{"name", "stdout"}, {"text", req.content.at("code")}}, kg::channel::iopub, req));
    out.push_back(from_kernel("execute_reply", {{"status", "ok"}, {"execution_count", 7}}, kg::channel::shell, req));
    out.push_back(status("idle", req));
  } else if (req.msg_type() == "kernel_info_request") {
    out.push_back(status("busy", req));
    out.push_back(from_kernel("kernel_info_reply",
                              {{"status", "ok"}, {"protocol_version", "5.3"}, {"implementation", "fake"},
                               {"language_info", {{"name", "python"}, {"file_extension", ".py"}}}},
                              kg::channel::shell, req));
    out.push_back(status("idle", req));
  }
  return out;
}

struct client_with_fake {
  fake_transport* fake;
  kg::kernel_client client;
  explicit client_with_fake(fake_transport::script s, kg::kernel_client_options o = {})
      : client_with_fake(std::make_unique<fake_transport>(std::move(s)), std::move(o)) {}
  client_with_fake(std::unique_ptr<fake_transport> t, kg::kernel_client_options o)
      : fake(t.get()), client(std::move(t), std::move(o)) {}
};

// A kernel that answers nothing by itself: the test delivers each message when it wants to.
class silent_kernel {
 public:
  fake_transport::script script() {
    return [this](const kg::message& req) {
      std::lock_guard lk(m_);
      held_.push_back(req);
      return std::vector<kg::message>{};
    };
  }
  /// The one request sent so far.
  kg::message only_request() {
    std::lock_guard lk(m_);
    REQUIRE(held_.size() == 1);
    return held_[0];
  }

 private:
  std::mutex m_;
  std::vector<kg::message> held_;
};

}  // namespace

TEST_CASE("execute collects outputs and finishes on reply and idle") {
  client_with_fake c(echo_kernel);
  std::vector<std::string> streamed;
  kg::execute_request req;
  req.code = "hello";
  req.on_output = [&](const kg::output& o) { streamed.push_back(o.text); };
  const auto r = c.client.execute(req, 5s);
  CHECK(r.status == kg::reply_status::ok);
  REQUIRE(r.execution_count.has_value());
  CHECK(*r.execution_count == 7);
  REQUIRE(r.outputs.size() == 1);
  CHECK(r.outputs[0].text == "hello");
  CHECK(streamed == std::vector<std::string>{"hello"});
  const auto sent = c.fake->sent();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].content.at("allow_stdin") == false);  // no input handler: input() must fail fast
}

TEST_CASE("execute is not done on the reply alone, nor on idle alone") {
  silent_kernel kernel;
  client_with_fake c(kernel.script());
  auto p = c.client.execute_async({.code = "x"});
  const kg::message req = kernel.only_request();
  c.fake->deliver(status("idle", req));
  CHECK_FALSE(p.wait(200ms));
  CHECK_FALSE(p.done());
  c.fake->deliver(from_kernel("execute_reply", {{"status", "ok"}, {"execution_count", 1}}, kg::channel::shell, req));
  CHECK(p.wait(5s));
  CHECK(p.result().execution_count == 1);
}

TEST_CASE("wait_for_reply returns the reply's status before idle; wait() then finishes on idle") {
  silent_kernel kernel;
  client_with_fake c(kernel.script());
  auto p = c.client.execute_async({.code = "1 / 0"});
  const kg::message req = kernel.only_request();
  CHECK_FALSE(p.wait_for_reply(100ms).has_value());  // nothing yet: the deadline passes
  c.fake->deliver(status("busy", req));
  c.fake->deliver(from_kernel("execute_reply", {{"status", "error"}, {"ename", "ZeroDivisionError"}},
                              kg::channel::shell, req));
  const auto replied = p.wait_for_reply(5s);
  REQUIRE(replied.has_value());
  CHECK(replied->status == kg::reply_status::error);
  CHECK(replied->ename == "ZeroDivisionError");
  CHECK_FALSE(p.done());  // the output may still be on its way
  c.fake->deliver(from_kernel("error", {{"ename", "ZeroDivisionError"}, {"evalue", "division by zero"}},
                              kg::channel::iopub, req));
  c.fake->deliver(status("idle", req));
  CHECK(p.wait(5s));
  CHECK(p.result().outputs.size() == 1);
}

TEST_CASE("collect_outputs false: handlers see every output, the result keeps none") {
  client_with_fake c(echo_kernel);
  std::vector<std::string> streamed;
  int messages = 0;
  kg::execute_request req;
  req.code = "hello";
  req.collect_outputs = false;
  req.on_output = [&](const kg::output& o) { streamed.push_back(o.text); };
  req.on_message = [&](const kg::message&) { ++messages; };
  const auto r = c.client.execute(req, 5s);
  CHECK(r.status == kg::reply_status::ok);
  CHECK(r.execution_count == 7);
  CHECK(r.outputs.empty());
  CHECK(streamed == std::vector<std::string>{"hello"});
  CHECK(messages == 4);  // busy, stream, reply, idle
}

TEST_CASE("concurrent requests from several threads each get their own reply") {
  // The kernel answers in reverse order of arrival, in batches of four.
  std::mutex m;
  std::vector<kg::message> batch;
  client_with_fake c([&](const kg::message& req) {
    std::lock_guard lk(m);
    batch.push_back(req);
    std::vector<kg::message> out;
    if (batch.size() == 4) {
      for (auto it = batch.rbegin(); it != batch.rend(); ++it) {
        auto part = echo_kernel(*it);
        out.insert(out.end(), part.begin(), part.end());
      }
      batch.clear();
    }
    return out;
  });
  std::vector<std::string> got(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&, i] {
      const auto r = c.client.execute("code " + std::to_string(i), 10s);
      got[i] = r.outputs.at(0).text;
    });
  for (auto& t : threads) t.join();
  for (int i = 0; i < 8; ++i) CHECK(got[i] == "code " + std::to_string(i));
}

TEST_CASE("a dead peer fails pending requests with kernel_died, and new ones at once") {
  client_with_fake c([](const kg::message&) { return std::vector<kg::message>{}; });
  auto p = c.client.execute_async({.code = "while True: pass"});
  c.fake->peer({kg::peer_state::dead, "kernel process exited with status 137"});
  try {
    (void)p.wait(30s);
    FAIL("wait should throw");
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::kernel_died);
    CHECK(std::string(e.what()).find("137") != std::string::npos);
  }
  CHECK_FALSE(c.client.alive());
  CHECK_THROWS_AS(c.client.execute_async({.code = "1"}), kg::error);
  c.fake->peer({kg::peer_state::reconnected, "heartbeat back"});
  // reconnected is processed on the fake's thread; reset_liveness is the owner's synchronous path.
  c.client.reset_liveness();
  CHECK(c.client.alive());
}

TEST_CASE("a request without reply times out with a clear error") {
  client_with_fake c([](const kg::message&) { return std::vector<kg::message>{}; });
  try {
    (void)c.client.complete("imp", 3, 100ms);
    FAIL("should time out");
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::timeout);
    CHECK(std::string(e.what()).find("complete_request") != std::string::npos);
  }
}

TEST_CASE("input requests are answered by the handler on the waiting thread") {
  std::mutex m;
  client_with_fake* self = nullptr;
  std::vector<kg::message> pending_exec;
  client_with_fake c([&](const kg::message& req) {
    std::vector<kg::message> out;
    if (req.msg_type() == "execute_request") {
      out.push_back(status("busy", req));
      out.push_back(from_kernel("input_request", {{"prompt", "name? "}, {"password", false}}, kg::channel::input, req));
      std::lock_guard lk(m);
      pending_exec.push_back(req);
    } else if (req.msg_type() == "input_reply") {
      std::lock_guard lk(m);
      const auto& ex = pending_exec.at(0);
      out.push_back(from_kernel("stream", {{"name", "stdout"}, {"text", "hi " + req.content.at("value").get<std::string>()}},
                                kg::channel::iopub, ex));
      out.push_back(from_kernel("execute_reply", {{"status", "ok"}, {"execution_count", 2}}, kg::channel::shell, ex));
      out.push_back(status("idle", ex));
    }
    return out;
  });
  self = &c;
  const auto caller = std::this_thread::get_id();
  std::thread::id handler_thread;
  kg::execute_request req;
  req.code = "print('hi', input('name? '))";
  req.on_input = [&](const kg::input_prompt& p) {
    handler_thread = std::this_thread::get_id();
    CHECK(p.prompt == "name? ");
    return std::string("ada");
  };
  const auto r = self->client.execute(req, 5s);
  CHECK(handler_thread == caller);
  REQUIRE(r.outputs.size() == 1);
  CHECK(r.outputs[0].text == "hi ada");
  const auto sent = c.fake->sent();
  CHECK(sent.at(0).content.at("allow_stdin") == true);
  CHECK(sent.at(1).chan == kg::channel::input);
  CHECK(sent.at(1).parent_header.at("msg_type") == "input_request");
}

TEST_CASE("errors become outputs and reply fields with ANSI escapes removed") {
  client_with_fake c([](const kg::message& req) {
    const nlohmann::json tb = nlohmann::json::array({"\x1b[0;31mZeroDivisionError\x1b[0m: division by zero"});
    return std::vector<kg::message>{
        status("busy", req),
        from_kernel("error", {{"ename", "ZeroDivisionError"}, {"evalue", "division by zero"}, {"traceback", tb}},
                    kg::channel::iopub, req),
        from_kernel("execute_reply",
                    {{"status", "error"}, {"execution_count", 3}, {"ename", "ZeroDivisionError"},
                     {"evalue", "division by zero"}, {"traceback", tb}},
                    kg::channel::shell, req),
        status("idle", req)};
  });
  const auto r = c.client.execute("1/0", 5s);
  CHECK(r.status == kg::reply_status::error);
  CHECK(r.ename == "ZeroDivisionError");
  REQUIRE(r.traceback.size() == 1);
  CHECK(r.traceback[0] == "ZeroDivisionError: division by zero");
  REQUIRE(r.outputs.size() == 1);
  CHECK(r.outputs[0].kind == kg::output_kind::error);
  CHECK(r.outputs[0].traceback == r.traceback);
}

TEST_CASE("wait_for_ready needs IOPub traffic, not only the kernel_info reply") {
  std::atomic<int> rounds{0};
  client_with_fake c([&](const kg::message& req) {
    // The first two kernel_info rounds lose their IOPub messages (a late subscription).
    auto all = echo_kernel(req);
    if (++rounds <= 2) {
      std::vector<kg::message> shell_only;
      for (auto& m : all)
        if (m.chan != kg::channel::iopub) shell_only.push_back(std::move(m));
      return shell_only;
    }
    return all;
  });
  const auto info = c.client.wait_for_ready(20s);
  CHECK(info.language == "python");
  CHECK(info.implementation == "fake");
  CHECK(rounds.load() == 3);
}

TEST_CASE("dropped frames and throwing output handlers reach the error handler") {
  std::mutex m;
  std::vector<kg::errc> seen;
  kg::kernel_client_options o;
  o.on_error = [&](const kg::error& e) {
    std::lock_guard lk(m);
    seen.push_back(e.condition());
  };
  client_with_fake c(echo_kernel, o);
  kg::execute_request req;
  req.code = "x";
  req.on_output = [](const kg::output&) { throw std::runtime_error("boom"); };
  const auto r = c.client.execute(req, 5s);
  CHECK(r.outputs.size() == 1);  // the output is kept even though the handler threw
  std::lock_guard lk(m);
  CHECK(seen.size() == 1);
}

TEST_CASE("strip_ansi removes colour, cursor and OSC sequences") {
  CHECK(kg::strip_ansi("\x1b[1;31mred\x1b[0m plain") == "red plain");
  CHECK(kg::strip_ansi("a\x1b]0;title\x07" "b") == "ab");
  CHECK(kg::strip_ansi("x\x1b(By") == "xy");
  CHECK(kg::strip_ansi("no escapes") == "no escapes");
  CHECK(kg::strip_ansi("trailing\x1b") == "trailing");
}

TEST_CASE("to_output maps IOPub message types") {
  const kg::message parent = kg::make_message("execute_request", {}, kernel_id, kg::channel::shell);
  auto res = kg::to_output(from_kernel("execute_result",
                                       {{"data", {{"text/plain", "42"}}}, {"metadata", nlohmann::json::object()},
                                        {"execution_count", 5}},
                                       kg::channel::iopub, parent));
  REQUIRE(res);
  CHECK(res->kind == kg::output_kind::execute_result);
  CHECK(res->text == "42");
  CHECK(res->execution_count == 5);
  auto disp = kg::to_output(from_kernel("update_display_data",
                                        {{"data", {{"text/plain", {"a", "b"}}}}, {"transient", {{"display_id", "d1"}}}},
                                        kg::channel::iopub, parent));
  REQUIRE(disp);
  CHECK(disp->text == "ab");
  CHECK(disp->display_id == "d1");
  CHECK_FALSE(kg::to_output(status("busy", parent)));
  auto clear = kg::to_output(from_kernel("clear_output", {{"wait", true}}, kg::channel::iopub, parent));
  REQUIRE(clear);
  CHECK(clear->wait);
}

TEST_CASE("save_rich_data writes decoded files under unique names and never overwrites") {
  kgtest::temp_dir dir;
  kgtest::write_file(dir.path() / "output_1.png", "existing");
  kg::output o;
  o.kind = kg::output_kind::display_data;
  // "\x89PNG\r\n\x1a\n" in base64, with a line break as some kernels emit.
  o.data = {{"image/png", "iVBORw0K\nGgo="},
            {"text/plain", "<Figure>"},
            {"application/json", {{"a", 1}}},
            {"text/html", "<b>x</b>"}};
  kg::save_rich_data(o, dir.path());
  REQUIRE(o.files.size() == 3);
  CHECK(kgtest::read_file(dir.path() / "output_1.png") == "existing");
  std::string png, json, html;
  for (const auto& f : o.files) {
    const std::filesystem::path p(f);
    if (p.extension() == ".png") png = kgtest::read_file(p);
    if (p.extension() == ".json") json = kgtest::read_file(p);
    if (p.extension() == ".html") html = kgtest::read_file(p);
  }
  CHECK(png == std::string("\x89PNG\r\n\x1a\n", 8));
  CHECK(nlohmann::json::parse(json) == nlohmann::json{{"a", 1}});
  CHECK(html == "<b>x</b>");
  // No temporary files are left behind.
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    CHECK(e.path().filename().string().front() != '.');
    ++entries;
  }
  CHECK(entries == 4);
}

TEST_CASE("save_rich_data rejects bad base64 without writing anything") {
  kgtest::temp_dir dir;
  kg::output o;
  o.data = {{"image/png", "not base64 at all!"}};
  CHECK_THROWS_AS(kg::save_rich_data(o, dir.path()), kg::error);
  CHECK(std::filesystem::is_empty(dir.path()));
  kg::output missing;
  missing.data = {{"text/html", "x"}};
  CHECK_THROWS_AS(kg::save_rich_data(missing, dir.path() / "nope"), kg::error);
}

TEST_CASE("to_output of an rvalue stream moves the text and matches the copying form") {
  const kg::message parent = kg::make_message("execute_request", {}, kernel_id, kg::channel::shell);
  auto msg = from_kernel("stream", {{"name", "stderr"}, {"text", std::string(1000, 'y')}}, kg::channel::iopub, parent);
  const auto copied = kg::to_output(msg);
  const auto moved = kg::to_output(std::move(msg));
  REQUIRE(copied);
  REQUIRE(moved);
  CHECK(moved->name == "stderr");
  CHECK(moved->text == copied->text);
  CHECK(moved->kind == kg::output_kind::stream);
}
