#include "kernelgate/gateway/gateway_session.hpp"

#include "client/timed_run.hpp"
#include "kernelgate/error.hpp"

#include <mutex>

namespace kernelgate {

struct gateway_session::impl {
  gateway_session_options options;
  gateway_client rest;
  std::string id;
  std::string name;
  bool owned = false;
  bool shut = false;
  std::optional<std::filesystem::path> output_dir;
  std::unique_ptr<kernel_client> client;
  kernel_info_reply ready_info;

  explicit impl(gateway_session_options o) : options(std::move(o)), rest(options.gateway) {}

  // Opens the channels (a fresh WebSocket session) and waits for the kernel to answer.
  void connect() {
    auto t = options.transport;
    t.gateway = options.gateway;
    t.kernel_id = id;
    t.session_id.clear();
    client = std::make_unique<kernel_client>(make_gateway_transport(t),
                                             kernel_client_options{.on_error = options.on_error});
    ready_info = client->wait_for_ready(options.startup_timeout);
  }

  std::string death_message(const std::string& reason) const {
    return "the gateway kernel " + id + " at " + rest.url() + " is gone: " + reason +
           (owned ? " (restart the session; state is lost)" : "");
  }

  void close_client() noexcept {
    if (client) client->close();
    client.reset();
  }
};

gateway_session::gateway_session(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
gateway_session::gateway_session(gateway_session&&) noexcept = default;
gateway_session& gateway_session::operator=(gateway_session&& other) noexcept {
  if (this != &other) {
    shutdown();
    impl_ = std::move(other.impl_);
  }
  return *this;
}
gateway_session::~gateway_session() { shutdown(); }

gateway_session gateway_session::start(gateway_session_options options) {
  auto p = std::make_unique<impl>(std::move(options));
  if (p->options.output_dir) {
    std::error_code ec;
    if (!std::filesystem::is_directory(*p->options.output_dir, ec)) {
      throw error(errc::invalid_argument,
                  "output directory '" + p->options.output_dir->string() + "' does not exist; create it first");
    }
    p->output_dir = std::filesystem::absolute(*p->options.output_dir);
  }
  if (p->options.kernel_id.empty()) {
    const auto k = p->rest.start_kernel({.name = p->options.kernel, .path = p->options.path, .env = p->options.env});
    p->id = k.id;
    p->name = k.name;
    p->owned = true;
  } else {
    const auto k = p->rest.kernel(p->options.kernel_id);
    p->id = k.id;
    p->name = k.name;
  }
  try {
    p->connect();
  } catch (...) {
    p->close_client();
    if (p->owned) {
      try {
        p->rest.delete_kernel(p->id);
      } catch (const error&) {  // the start failure is what the caller needs to see
      }
    }
    throw;
  }
  return gateway_session(std::move(p));
}

run_result gateway_session::execute(const std::string& code, const run_options& options) {
  auto& s = *impl_;
  if (s.shut || !s.client) throw error(errc::not_connected, "the gateway session is shut down; start a new one");
  if (!s.client->alive()) throw error(errc::kernel_died, s.death_message(s.client->death_reason()));
  try {
    return detail::timed_run(*s.client, code, options, s.output_dir,
                             {.interrupt = [this] { interrupt(); },
                              .restart = s.owned ? std::function<void()>([this] { restart(); }) : nullptr});
  } catch (const error& e) {
    if (e.condition() == errc::kernel_died) throw error(errc::kernel_died, s.death_message(e.what()));
    throw;
  }
}

void gateway_session::interrupt() {
  if (impl_->shut) throw error(errc::not_connected, "the gateway session is shut down");
  impl_->rest.interrupt_kernel(impl_->id);
}

void gateway_session::restart() {
  auto& s = *impl_;
  if (s.shut) throw error(errc::not_connected, "the gateway session is shut down; start a new one");
  if (!s.owned) {
    throw error(errc::invalid_argument, "the gateway kernel " + s.id +
                                            " was attached, not started, by this session; its owner restarts it");
  }
  s.close_client();
  try {
    (void)s.rest.restart_kernel(s.id);
  } catch (const error& e) {
    // A kernel that died may be in the middle of the server's own auto-restart, which makes a
    // restart request fail (500), or may be gone (404). A new kernel gives the same fresh state.
    if (e.condition() != errc::http_status || (e.http_status() != 404 && e.http_status() < 500)) throw;
    try {
      s.rest.delete_kernel(s.id);
    } catch (const error&) {  // already gone
    }
    s.id = s.rest.start_kernel({.name = s.name, .path = s.options.path, .env = s.options.env}).id;
  }
  s.connect();
}

void gateway_session::shutdown() noexcept {
  if (!impl_ || impl_->shut) return;
  auto& s = *impl_;
  s.shut = true;
  s.close_client();
  if (s.owned) {
    try {
      s.rest.delete_kernel(s.id);
    } catch (...) {  // already gone (deleted, culled, server down): nothing left to release
    }
  }
}

kernel_client& gateway_session::client() {
  if (!impl_->client) throw error(errc::not_connected, "the gateway session is shut down");
  return *impl_->client;
}
const gateway_client& gateway_session::rest() const { return impl_->rest; }
const kernel_info_reply& gateway_session::info() const { return impl_->ready_info; }
const std::string& gateway_session::kernel_name() const { return impl_->name; }
const std::string& gateway_session::kernel_id() const { return impl_->id; }
bool gateway_session::owned() const { return impl_->owned; }
bool gateway_session::alive() const { return impl_->client && !impl_->shut && impl_->client->alive(); }

}  // namespace kernelgate
