#include "kernelgate/client/kernel_client.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace kernelgate {

const char* to_string(reply_status s) noexcept {
  switch (s) {
    case reply_status::ok: return "ok";
    case reply_status::error: return "error";
    case reply_status::aborted: return "aborted";
  }
  return "unknown";
}

namespace detail {

// One request in flight. Its own mutex: the I/O thread takes the table lock, then at most one state
// lock, never the other way round.
struct execute_state {
  std::string msg_id;
  std::string msg_type;
  bool wants_idle = false;  // execute: finished by reply AND idle

  output_handler on_output;
  std::function<void(const message&)> on_message;
  input_handler on_input;
  std::optional<std::filesystem::path> output_dir;
  bool collect_outputs = true;
  std::weak_ptr<client_core> core;

  mutable std::mutex m;
  std::condition_variable cv;
  std::optional<message> reply;
  bool idle = false;
  bool abandoned = false;
  std::optional<std::pair<errc, std::string>> failure;
  std::vector<output> outputs;
  std::vector<std::string> files;
  std::deque<message> input_requests;

  [[nodiscard]] bool finished_locked() const {
    if (!reply) return false;
    if (!wants_idle || idle) return true;
    // Kernels abort queued requests after an error without running them; no idle may follow.
    return reply->content.is_object() && reply->content.value("status", "") == "aborted";
  }
};

struct client_core : std::enable_shared_from_this<client_core> {
  std::unique_ptr<channel_transport> transport;
  kernel_client_options options;

  mutable std::mutex m;
  std::condition_variable iopub_cv;
  std::unordered_map<std::string, std::shared_ptr<execute_state>> pending;
  bool dead = false;
  std::string dead_reason;
  bool closed = false;
  std::uint64_t iopub_seen = 0;

  void report(const error& e) noexcept {
    if (!options.on_error) return;
    try {
      options.on_error(e);
    } catch (...) {  // a throwing error handler has nowhere left to report to
    }
  }

  // Runs a handler the user supplied: what it throws is reported, never propagated (into the I/O
  // thread or a wait). `which` names it in the report ("an output handler").
  template <class F>
  void call_handler(const char* which, F&& f) noexcept {
    try {
      f();
    } catch (const std::exception& e) {
      report(error(errc::invalid_argument, std::string(which) + " threw: " + e.what()));
    } catch (...) {
      report(error(errc::invalid_argument, std::string(which) + " threw a non-standard exception"));
    }
  }

  // Fails every pending request and forgets them.
  void fail_all(errc code, const std::string& why) {
    std::unordered_map<std::string, std::shared_ptr<execute_state>> victims;
    {
      std::lock_guard lk(m);
      victims.swap(pending);
    }
    for (auto& [id, st] : victims) {
      std::lock_guard lk(st->m);
      if (!st->failure) st->failure.emplace(code, why);
      st->cv.notify_all();
    }
  }

  std::shared_ptr<execute_state> find(const std::string& id) {
    std::lock_guard lk(m);
    const auto it = pending.find(id);
    return it == pending.end() ? nullptr : it->second;
  }

  void forget(const std::string& id) {
    std::lock_guard lk(m);
    pending.erase(id);
  }

  void finish_if_done(const std::shared_ptr<execute_state>& st) {
    bool done;
    {
      std::lock_guard lk(st->m);
      done = st->finished_locked();
      if (done) st->cv.notify_all();
    }
    if (done) forget(st->msg_id);
  }

  // The request's raw-message hook; what it throws is reported, never propagated.
  void notify_message(execute_state& st, const message& msg) {
    std::function<void(const message&)> hook;
    {
      std::lock_guard lk(st.m);
      if (st.abandoned) return;
      hook = st.on_message;
    }
    if (hook) call_handler("a message handler", [&] { hook(msg); });
  }

  void on_message(message msg) {
    if (msg.chan == channel::iopub) {
      on_iopub(std::move(msg));
      return;
    }
    const std::string parent = msg.parent_msg_id();
    auto st = find(parent);
    if (msg.chan == channel::input) {
      if (msg.msg_type() != "input_request") return;
      if (st) {
        std::lock_guard lk(st->m);
        if (st->on_input) {
          st->input_requests.push_back(std::move(msg));
          st->cv.notify_all();
          return;
        }
      }
      // Nobody can answer: reply at once so the kernel's input() returns instead of waiting forever.
      send_input_reply(msg, "");
      return;
    }
    if (!st) return;  // a reply to an abandoned or repeated request (e.g. kernel_info nudges)
    notify_message(*st, msg);
    {
      std::lock_guard lk(st->m);
      if (!st->reply) st->reply = std::move(msg);
      st->cv.notify_all();  // wait_for_reply() needs no idle
    }
    finish_if_done(st);
  }

  void on_iopub(message msg) {
    {
      std::lock_guard lk(m);
      ++iopub_seen;
    }
    iopub_cv.notify_all();
    if (options.on_iopub) call_handler("the IOPub handler", [&] { options.on_iopub(msg); });
    auto st = find(msg.parent_msg_id());
    if (!st) return;
    notify_message(*st, msg);
    const std::string type = msg.msg_type();  // before msg is moved from
    if (type == "status") {
      if (msg.content.is_object() && msg.content.value("execution_state", "") == "idle") {
        {
          std::lock_guard lk(st->m);
          st->idle = true;
        }
        finish_if_done(st);
      }
      return;
    }
    std::optional<std::filesystem::path> dir;
    output_handler handler;
    bool collect;
    {
      std::lock_guard lk(st->m);
      if (st->abandoned) return;
      dir = st->output_dir;
      handler = st->on_output;
      collect = st->collect_outputs;
    }
    if (!dir && !handler && !collect) return;  // nobody wants the output form
    auto out = to_output(std::move(msg));
    if (!out) return;
    if (dir) {
      try {
        save_rich_data(*out, *dir);
      } catch (const error& e) {
        report(e);
      }
    }
    if (handler) call_handler("an output handler", [&] { handler(*out); });
    std::lock_guard lk(st->m);
    st->files.insert(st->files.end(), out->files.begin(), out->files.end());
    if (collect) st->outputs.push_back(std::move(*out));
  }

  void on_peer(const peer_event& ev) {
    switch (ev.state) {
      case peer_state::dead: {
        {
          std::lock_guard lk(m);
          dead = true;
          dead_reason = ev.reason;
        }
        iopub_cv.notify_all();
        fail_all(errc::kernel_died, ev.reason);
        break;
      }
      case peer_state::restarting:
        fail_all(errc::kernel_died, "the kernel restarted: " + ev.reason);
        break;
      case peer_state::reconnected: {
        std::lock_guard lk(m);
        dead = false;
        dead_reason.clear();
        break;
      }
      case peer_state::reconnecting: break;
    }
  }

  void send_input_reply(const message& request, const std::string& value) {
    message reply = make_message("input_reply", {{"value", value}}, options.identity, channel::input, &request);
    try {
      transport->send(std::move(reply));
    } catch (const error& e) {
      report(e);
    }
  }

  // Registers a request and sends it. An execute passes its request for the hooks.
  std::shared_ptr<execute_state> start_request(message msg, bool wants_idle, execute_request* hooks = nullptr) {
    auto st = std::make_shared<execute_state>();
    st->msg_id = msg.msg_id();
    st->msg_type = msg.msg_type();
    st->wants_idle = wants_idle;
    if (hooks) {
      st->on_message = std::move(hooks->on_message);
      st->on_output = std::move(hooks->on_output);
      st->on_input = std::move(hooks->on_input);
      st->output_dir = std::move(hooks->output_dir);
      st->collect_outputs = hooks->collect_outputs;
    }
    st->core = weak_from_this();
    {
      std::lock_guard lk(m);
      if (closed) throw error(errc::not_connected, "the kernel client is closed; start or attach a new session");
      if (dead)
        throw error(errc::kernel_died, "the kernel is dead (" + dead_reason + "); restart it before sending requests");
      pending.emplace(st->msg_id, st);  // registered before sending: no reply can outrun it
    }
    try {
      transport->send(std::move(msg));
    } catch (...) {
      forget(st->msg_id);
      throw;
    }
    return st;
  }
};

namespace {

// Waits for a state to finish (or, with reply_suffices, for its reply); answers input requests on
// this thread. True when finished (or replied).
bool wait_state(const std::shared_ptr<execute_state>& st, deadline until, bool reply_suffices = false) {
  std::unique_lock lk(st->m);
  const auto reached = [&] { return st->finished_locked() || (reply_suffices && st->reply); };
  for (;;) {
    if (st->failure) throw error(st->failure->first, st->failure->second);
    if (reached()) return true;
    if (st->abandoned) throw error(errc::cancelled, "the request " + st->msg_type + " was abandoned");
    if (!st->input_requests.empty()) {
      message req = std::move(st->input_requests.front());
      st->input_requests.pop_front();
      input_handler handler = st->on_input;
      lk.unlock();
      input_prompt prompt;
      if (req.content.is_object()) {
        prompt.prompt = req.content.value("prompt", "");
        prompt.password = req.content.value("password", false);
      }
      if (auto core = st->core.lock()) {  // else the client is closed: nobody to answer to
        std::string answer;
        core->call_handler("the input handler", [&] { answer = handler(prompt); });
        core->send_input_reply(req, answer);
      }
      lk.lock();
      continue;
    }
    if (st->cv.wait_until(lk, until.at()) == std::cv_status::timeout && !reached() && !st->failure &&
        st->input_requests.empty())
      return false;
  }
}

void fill_reply_base(reply_base& r, const nlohmann::json& content) {
  if (!content.is_object()) return;
  r.content = content;
  const std::string status = content.value("status", "ok");
  r.status = status == "error" ? reply_status::error : status == "aborted" ? reply_status::aborted : reply_status::ok;
  if (r.status == reply_status::error) {
    r.ename = content.value("ename", "");
    r.evalue = content.value("evalue", "");
    if (const auto it = content.find("traceback"); it != content.end() && it->is_array())
      for (const auto& line : *it)
        if (line.is_string()) r.traceback.push_back(strip_ansi(line.get<std::string>()));
  }
}

execute_reply build_execute_reply(execute_state& st, bool take) {
  execute_reply r;
  if (take) {
    r.outputs = std::exchange(st.outputs, {});
    r.output_files = std::exchange(st.files, {});
  } else {
    r.outputs = st.outputs;
    r.output_files = st.files;
  }
  if (!st.reply) {
    r.status = reply_status::aborted;
    return r;
  }
  const auto& c = st.reply->content;
  fill_reply_base(r, c);
  if (c.is_object()) {
    if (const auto it = c.find("execution_count"); it != c.end() && it->is_number_integer())
      r.execution_count = it->get<int>();
    if (const auto it = c.find("user_expressions"); it != c.end() && it->is_object()) r.user_expressions = *it;
    if (const auto it = c.find("payload"); it != c.end() && it->is_array()) r.payload = *it;
  }
  return r;
}

std::string json_string(const nlohmann::json& obj, const char* key) {
  if (!obj.is_object()) return {};
  const auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int json_int(const nlohmann::json& obj, const char* key) {
  if (!obj.is_object()) return 0;
  const auto it = obj.find(key);
  return it != obj.end() && it->is_number_integer() ? it->get<int>() : 0;
}

}  // namespace
}  // namespace detail

// ---- pending_execute ---------------------------------------------------------------------------

const std::string& pending_execute::msg_id() const noexcept { return state_->msg_id; }

bool pending_execute::wait(deadline until) { return detail::wait_state(state_, until); }

std::optional<reply_base> pending_execute::wait_for_reply(deadline until) {
  if (!detail::wait_state(state_, until, true)) return std::nullopt;
  std::lock_guard lk(state_->m);
  reply_base r;
  detail::fill_reply_base(r, state_->reply->content);
  return r;
}

bool pending_execute::done() const {
  std::lock_guard lk(state_->m);
  return state_->finished_locked();
}

namespace {
execute_reply result_of(detail::execute_state& st, bool take) {
  std::lock_guard lk(st.m);
  execute_reply r = detail::build_execute_reply(st, take);
  if (!st.finished_locked()) {
    r.status = reply_status::aborted;
    r.execution_count.reset();
  }
  return r;
}
}  // namespace

execute_reply pending_execute::result() const { return result_of(*state_, false); }
execute_reply pending_execute::take_result() { return result_of(*state_, true); }

void pending_execute::abandon() noexcept {
  {
    std::lock_guard lk(state_->m);
    state_->abandoned = true;
    state_->cv.notify_all();
  }
  if (auto core = state_->core.lock()) core->forget(state_->msg_id);
}

// ---- kernel_client -----------------------------------------------------------------------------

kernel_client::kernel_client(std::unique_ptr<channel_transport> transport, kernel_client_options options)
    : core_(std::make_shared<detail::client_core>()) {
  if (!transport) throw error(errc::invalid_argument, "kernel_client needs a transport, got null");
  core_->transport = std::move(transport);
  core_->options = std::move(options);
  // The handlers hold a weak pointer: the transport is closed (and its thread joined) before the core
  // goes away, but a weak pointer costs nothing and keeps that ordering from being load-bearing.
  std::weak_ptr<detail::client_core> weak = core_;
  transport_handlers h;
  h.on_message = [weak](message msg) {
    if (auto c = weak.lock()) c->on_message(std::move(msg));
  };
  h.on_dropped = [weak](const error& e) {
    if (auto c = weak.lock()) c->report(e);
  };
  h.on_peer = [weak](const peer_event& ev) {
    if (auto c = weak.lock()) c->on_peer(ev);
  };
  core_->transport->start(std::move(h));
}

kernel_client::kernel_client(kernel_client&&) noexcept = default;
kernel_client& kernel_client::operator=(kernel_client&& other) noexcept {
  if (this != &other) {
    close();
    core_ = std::move(other.core_);
  }
  return *this;
}

kernel_client::~kernel_client() { close(); }

void kernel_client::close() noexcept {
  if (!core_) return;
  {
    std::lock_guard lk(core_->m);
    if (core_->closed) return;
    core_->closed = true;
  }
  core_->transport->close();
  core_->iopub_cv.notify_all();
  core_->fail_all(errc::not_connected, "the kernel client was closed while the request was in flight");
}

bool kernel_client::alive() const noexcept {
  std::lock_guard lk(core_->m);
  return !core_->dead && !core_->closed;
}

std::string kernel_client::death_reason() const {
  std::lock_guard lk(core_->m);
  return core_->dead_reason;
}

void kernel_client::reset_liveness() noexcept {
  std::lock_guard lk(core_->m);
  core_->dead = false;
  core_->dead_reason.clear();
}

const session_identity& kernel_client::identity() const noexcept { return core_->options.identity; }

channel_transport& kernel_client::transport() noexcept { return *core_->transport; }

pending_execute kernel_client::execute_async(execute_request request) {
  nlohmann::json content = {
      {"code", request.code},
      {"silent", request.silent},
      {"store_history", request.store_history && !request.silent},
      {"user_expressions", request.user_expressions},
      {"allow_stdin", static_cast<bool>(request.on_input)},
      {"stop_on_error", request.stop_on_error},
  };
  message msg = make_message("execute_request", std::move(content), core_->options.identity, channel::shell);
  return pending_execute(core_->start_request(std::move(msg), true, &request));
}

execute_reply kernel_client::execute(execute_request request, deadline until) {
  pending_execute p = execute_async(std::move(request));
  if (!p.wait(until)) {
    p.abandon();
    throw error(errc::timeout, "execute_request " + p.msg_id() + " did not finish before its deadline on " +
                                   core_->transport->describe() + "; interrupt the kernel or allow more time");
  }
  return p.take_result();
}

execute_reply kernel_client::execute(std::string code, deadline until) {
  execute_request req;
  req.code = std::move(code);
  return execute(std::move(req), until);
}

message kernel_client::request(std::string_view msg_type, nlohmann::json content, channel chan, deadline until) {
  if (chan != channel::shell && chan != channel::control)
    throw error(errc::invalid_argument, "requests go on shell or control, not " + std::string(to_string(chan)));
  message msg = make_message(msg_type, std::move(content), core_->options.identity, chan);
  auto st = core_->start_request(std::move(msg), false);
  bool finished = false;
  try {
    finished = detail::wait_state(st, until);
  } catch (...) {
    core_->forget(st->msg_id);
    throw;
  }
  if (!finished) {
    core_->forget(st->msg_id);
    throw error(errc::timeout, std::string(msg_type) + " got no reply before its deadline on " +
                                   core_->transport->describe() + " (the kernel may be busy or not support it)");
  }
  std::lock_guard lk(st->m);
  return *st->reply;
}

kernel_info_reply kernel_client::kernel_info(deadline until) {
  const message m = request("kernel_info_request", nlohmann::json::object(), channel::shell, until);
  kernel_info_reply r;
  detail::fill_reply_base(r, m.content);
  r.protocol_version = detail::json_string(m.content, "protocol_version");
  r.implementation = detail::json_string(m.content, "implementation");
  r.implementation_version = detail::json_string(m.content, "implementation_version");
  r.banner = detail::json_string(m.content, "banner");
  if (m.content.is_object())
    if (const auto it = m.content.find("language_info"); it != m.content.end() && it->is_object()) {
      r.language = detail::json_string(*it, "name");
      r.language_version = detail::json_string(*it, "version");
      r.file_extension = detail::json_string(*it, "file_extension");
      r.mimetype = detail::json_string(*it, "mimetype");
    }
  return r;
}

kernel_info_reply kernel_client::wait_for_ready(deadline until) {
  using namespace std::chrono_literals;
  bool got_reply = false;
  std::uint64_t baseline;  // IOPub seen before this call proves nothing about a restarted kernel
  {
    std::lock_guard lk(core_->m);
    baseline = core_->iopub_seen;
  }
  for (;;) {
    // Each round: one kernel_info_request, up to a second for its reply, a moment (50 ms) for IOPub:
    // the kernel publishes busy before it replies, so a live subscription delivers it about as fast.
    // Any IOPub message (its busy/idle, or an iopub_welcome) proves the subscription is live.
    const deadline round = until.capped(1s);
    std::optional<kernel_info_reply> info;
    try {
      info = kernel_info(round);
      got_reply = true;
    } catch (const error& e) {
      if (e.condition() != errc::timeout) throw;
    }
    std::unique_lock lk(core_->m);
    const deadline settle = until.capped(info ? 50ms : 0ms);
    core_->iopub_cv.wait_until(lk, settle.at(), [&] { return core_->iopub_seen > baseline || core_->dead || core_->closed; });
    if (core_->dead)
      throw error(errc::kernel_died, "the kernel died before it was ready: " + core_->dead_reason);
    if (core_->closed) throw error(errc::not_connected, "the kernel client was closed while waiting for the kernel");
    if (info && core_->iopub_seen > baseline) return *info;
    if (until.expired())
      throw error(errc::timeout, std::string("the kernel on ") + core_->transport->describe() + " was not ready in time: " +
                                     (got_reply ? "kernel_info replied but no IOPub message arrived"
                                                : "no kernel_info_reply arrived") +
                                     "; allow a longer start-up timeout or check the kernel's log");
  }
}

complete_reply kernel_client::complete(const std::string& code, int cursor_pos, deadline until) {
  const message m = request("complete_request", {{"code", code}, {"cursor_pos", cursor_pos}}, channel::shell, until);
  complete_reply r;
  detail::fill_reply_base(r, m.content);
  if (m.content.is_object()) {
    if (const auto it = m.content.find("matches"); it != m.content.end() && it->is_array())
      for (const auto& s : *it)
        if (s.is_string()) r.matches.push_back(s.get<std::string>());
    r.cursor_start = detail::json_int(m.content, "cursor_start");
    r.cursor_end = detail::json_int(m.content, "cursor_end");
    if (const auto it = m.content.find("metadata"); it != m.content.end() && it->is_object()) r.metadata = *it;
  }
  return r;
}

inspect_reply kernel_client::inspect(const std::string& code, int cursor_pos, int detail_level, deadline until) {
  const message m = request("inspect_request", {{"code", code}, {"cursor_pos", cursor_pos}, {"detail_level", detail_level}},
                            channel::shell, until);
  inspect_reply r;
  detail::fill_reply_base(r, m.content);
  if (m.content.is_object()) {
    r.found = m.content.value("found", false);
    if (const auto it = m.content.find("data"); it != m.content.end() && it->is_object()) r.data = *it;
    if (const auto it = m.content.find("metadata"); it != m.content.end() && it->is_object()) r.metadata = *it;
  }
  return r;
}

is_complete_reply kernel_client::is_complete(const std::string& code, deadline until) {
  const message m = request("is_complete_request", {{"code", code}}, channel::shell, until);
  is_complete_reply r;
  detail::fill_reply_base(r, m.content);
  const std::string s = detail::json_string(m.content, "status");
  r.completeness = s == "complete"     ? code_completeness::complete
                   : s == "incomplete" ? code_completeness::incomplete
                   : s == "invalid"    ? code_completeness::invalid
                                       : code_completeness::unknown;
  // is_complete's `status` is the verdict, not the reply status.
  r.status = reply_status::ok;
  r.indent = detail::json_string(m.content, "indent");
  return r;
}

history_reply kernel_client::history(const history_query& q, deadline until) {
  nlohmann::json content = {{"output", q.output}, {"raw", q.raw}};
  switch (q.kind) {
    case history_query::access::range:
      content["hist_access_type"] = "range";
      content["session"] = q.session;
      content["start"] = q.start;
      content["stop"] = q.stop;
      break;
    case history_query::access::tail:
      content["hist_access_type"] = "tail";
      content["n"] = q.n;
      break;
    case history_query::access::search:
      content["hist_access_type"] = "search";
      content["n"] = q.n;
      content["pattern"] = q.pattern;
      content["unique"] = q.unique;
      break;
  }
  const message m = request("history_request", std::move(content), channel::shell, until);
  history_reply r;
  detail::fill_reply_base(r, m.content);
  if (m.content.is_object())
    if (const auto it = m.content.find("history"); it != m.content.end() && it->is_array())
      for (const auto& row : *it) {
        if (!row.is_array() || row.size() < 3) continue;
        history_entry e;
        e.session = row[0].is_number_integer() ? row[0].get<int>() : 0;
        e.line = row[1].is_number_integer() ? row[1].get<int>() : 0;
        if (row[2].is_string()) {
          e.input = row[2].get<std::string>();
        } else if (row[2].is_array() && !row[2].empty()) {  // (input, output) when output was asked for
          if (row[2][0].is_string()) e.input = row[2][0].get<std::string>();
          if (row[2].size() > 1 && row[2][1].is_string()) e.output = row[2][1].get<std::string>();
        }
        r.history.push_back(std::move(e));
      }
  return r;
}

comm_info_reply kernel_client::comm_info(const std::string& target_name, deadline until) {
  nlohmann::json content = nlohmann::json::object();
  if (!target_name.empty()) content["target_name"] = target_name;
  const message m = request("comm_info_request", std::move(content), channel::shell, until);
  comm_info_reply r;
  detail::fill_reply_base(r, m.content);
  if (m.content.is_object())
    if (const auto it = m.content.find("comms"); it != m.content.end() && it->is_object())
      for (const auto& [id, info] : it->items()) r.comms[id] = detail::json_string(info, "target_name");
  return r;
}

reply_base kernel_client::interrupt(deadline until) {
  const message m = request("interrupt_request", nlohmann::json::object(), channel::control, until);
  reply_base r;
  detail::fill_reply_base(r, m.content);
  return r;
}

void kernel_client::shutdown(bool restart, deadline until) {
  try {
    (void)request("shutdown_request", {{"restart", restart}}, channel::control, until);
  } catch (const error& e) {
    // A kernel that exits right after (or instead of) replying has done what was asked.
    if (e.condition() != errc::kernel_died) throw;
  }
}

}  // namespace kernelgate
