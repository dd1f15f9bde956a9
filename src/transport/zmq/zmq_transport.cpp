#include "transport/zmq/zmq_transport.hpp"

#include "detail/process.hpp"
#include "kernelgate/wire/signer.hpp"
#include "kernelgate/wire/zmq_codec.hpp"

#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.hpp>

#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

namespace kernelgate::detail {
namespace {

using clock = std::chrono::steady_clock;

// Work handed to the I/O thread: encoded frames for a channel, or a liveness change.
struct outgoing {
  channel chan = channel::shell;
  std::vector<std::string> frames;
};

struct watch_command {
  liveness_watch watch;
  bool done = false;
};

class zmq_transport_impl final : public zmq_transport {
 public:
  explicit zmq_transport_impl(zmq_transport_options options)
      : options_(std::move(options)),
        signer_(options_.connection.key, options_.connection.signature_scheme),
        context_(1),
        shell_(make_dealer(channel::shell)),
        control_(make_dealer(channel::control)),
        stdin_(make_dealer(channel::input)),
        iopub_(context_, zmq::socket_type::sub),
        wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (!wake_) throw error(errc::connection_failed, std::string("cannot create an eventfd: ") + std::strerror(errno));
    configure(iopub_);
    iopub_.set(zmq::sockopt::rcvhwm, 0);  // never drop output because we were briefly slow
    iopub_.set(zmq::sockopt::subscribe, "");
    connect(iopub_, channel::iopub);
    heartbeat_enabled_ = options_.heartbeat;
    make_heartbeat();
  }

  zmq_transport_impl(const zmq_transport_impl&) = delete;
  zmq_transport_impl& operator=(const zmq_transport_impl&) = delete;
  ~zmq_transport_impl() override { close_impl(); }

  void watch(liveness_watch w) override {
    auto cmd = std::make_shared<watch_command>();
    cmd->watch = std::move(w);
    std::unique_lock lk(mutex_);
    if (!started_ || thread_exited_) {  // no I/O thread running: nobody else touches the state
      apply_watch(cmd->watch);
      return;
    }
    watches_.push_back(cmd);
    lk.unlock();
    wake();
    lk.lock();
    // The I/O thread blocks only in zmq_poll, which the wake interrupts; when it exits it completes
    // every pending command, so this wait always ends.
    cv_.wait(lk, [&] { return cmd->done; });
  }

 private:
  // ---- setup ----
  static void configure(zmq::socket_t& s) {
    s.set(zmq::sockopt::linger, 0);
    // A kernel being launched binds its ports a moment after we connect; retrying every 20 ms
    // (instead of ZeroMQ's 100 ms) lets the first request through as soon as it listens.
    s.set(zmq::sockopt::reconnect_ivl, 20);
  }

  zmq::socket_t make_dealer(channel c) {
    zmq::socket_t s(context_, zmq::socket_type::dealer);
    configure(s);
    s.set(zmq::sockopt::routing_id, options_.identity);  // shell and stdin must share it
    s.set(zmq::sockopt::sndhwm, 0);                      // queue requests until the kernel listens
    connect(s, c);
    return s;
  }

  void connect(zmq::socket_t& s, channel c) {
    const std::string ep = options_.connection.endpoint(c);
    try {
      s.connect(ep);
    } catch (const zmq::error_t& e) {
      throw error(errc::connection_failed, "cannot connect the " + std::string(to_string(c)) + " channel to " + ep +
                                               ": " + e.what() + " (check the connection file's ip and ports)");
    }
  }

  void make_heartbeat() {
    heartbeat_ = zmq::socket_t(context_, zmq::socket_type::req);
    configure(heartbeat_);
    connect(heartbeat_, channel::heartbeat);
    ping_outstanding_ = false;
  }

  // ---- channel_transport ----
  void start_impl(transport_handlers handlers) override {
    std::lock_guard lk(mutex_);
    if (stopping_) throw error(errc::not_connected, "the ZeroMQ transport is closed; create a new one");
    if (thread_.joinable()) throw error(errc::invalid_argument, "the ZeroMQ transport was already started");
    handlers_ = std::move(handlers);
    open_ = true;
    started_ = true;
    thread_ = std::thread([this] { run(); });
  }

  void send_impl(message msg) override {
    if (msg.chan != channel::shell && msg.chan != channel::control && msg.chan != channel::input)
      throw error(errc::invalid_argument, "cannot send on the " + std::string(to_string(msg.chan)) +
                                              " channel; requests go on shell, control or stdin");
    outgoing out;
    out.chan = msg.chan;
    out.frames = encode_zmq(std::move(msg), signer_);  // signing is thread-safe: done on the caller's thread
    {
      std::lock_guard lk(mutex_);
      if (stopping_ || !open_) throw error(errc::not_connected, "the ZeroMQ transport to " + describe_impl() + " is closed");
      outbox_.push_back(std::move(out));
    }
    wake();
  }

  void close_impl() noexcept override {
    std::lock_guard closing(close_mutex_);  // concurrent close() calls: one joins, the others wait
    {
      std::lock_guard lk(mutex_);
      stopping_ = true;
    }
    wake();
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
    open_ = false;
  }

  bool is_open_impl() const noexcept override { return open_; }

  std::string describe_impl() const override {
    return "zmq " + options_.connection.transport + "://" + options_.connection.ip + " (shell port " +
           std::to_string(options_.connection.shell_port) + ")";
  }

  // ---- I/O thread ----
  // Other threads hand work over through outbox_/watches_ and wake the I/O thread with an eventfd
  // rather than an inproc PAIR socket: writing an eventfd is safe from any number of threads at
  // once, where a PAIR socket would need its own lock (ZeroMQ sockets are single-threaded), and
  // zmq_poll waits on the eventfd like on any socket.
  void wake() noexcept {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(wake_.get(), &one, sizeof one);
  }

  void apply_watch(const liveness_watch& w) {
    process_fd_ = w.process_fd;
    process_name_ = w.process_name;
    heartbeat_enabled_ = w.heartbeat;
    misses_ = 0;
    make_heartbeat();  // a REQ waiting for an old pong would never send again
    next_ping_ = clock::now();
    if (dead_reported_) {
      dead_reported_ = false;
      emit_peer({peer_state::reconnected, "watching a new kernel process"});
    }
  }

  void emit_peer(const peer_event& ev) noexcept {
    if (!handlers_.on_peer) return;
    try {
      handlers_.on_peer(ev);
    } catch (...) {  // handlers must not throw; the transport survives it
    }
  }

  void report_dead(const std::string& reason) {
    if (dead_reported_) return;
    dead_reported_ = true;
    emit_peer({peer_state::dead, reason});
  }

  void run() {
    try {
      loop();
    } catch (const std::exception& e) {
      report_dead(std::string("the ZeroMQ I/O thread failed: ") + e.what());
    }
    // Complete any watch() still waiting so no caller blocks on a stopped thread.
    std::lock_guard lk(mutex_);
    thread_exited_ = true;
    for (auto& w : watches_) w->done = true;
    watches_.clear();
    cv_.notify_all();
  }

  void loop() {
    next_ping_ = clock::now();
    for (;;) {
      // Commands first: stop, liveness changes, outgoing messages.
      std::deque<outgoing> outbox;
      std::deque<std::shared_ptr<watch_command>> watches;
      {
        std::lock_guard lk(mutex_);
        if (stopping_) return;
        outbox.swap(outbox_);
        watches.swap(watches_);
      }
      for (auto& w : watches) apply_watch(w->watch);
      if (!watches.empty()) {
        std::lock_guard lk(mutex_);
        for (auto& w : watches) w->done = true;
        cv_.notify_all();
      }
      for (auto& out : outbox) send_frames(out);

      heartbeat_tick();

      std::array<zmq_pollitem_t, 7> items{};
      std::size_t n = 0;
      items[n++] = {shell_.handle(), 0, ZMQ_POLLIN, 0};
      items[n++] = {control_.handle(), 0, ZMQ_POLLIN, 0};
      items[n++] = {stdin_.handle(), 0, ZMQ_POLLIN, 0};
      items[n++] = {iopub_.handle(), 0, ZMQ_POLLIN, 0};
      items[n++] = {heartbeat_.handle(), 0, ZMQ_POLLIN, 0};
      items[n++] = {nullptr, wake_.get(), ZMQ_POLLIN, 0};
      const bool watching_process = process_fd_ >= 0;
      if (watching_process) items[n++] = {nullptr, process_fd_, ZMQ_POLLIN, 0};

      const auto now = clock::now();
      long timeout_ms = -1;
      if (heartbeat_enabled_) {
        const auto until = next_ping_ > now ? next_ping_ - now : clock::duration::zero();
        timeout_ms = static_cast<long>(std::chrono::ceil<std::chrono::milliseconds>(until).count());
      }
      const int rc = zmq_poll(items.data(), static_cast<int>(n), timeout_ms);
      if (rc < 0) {
        if (zmq_errno() == EINTR) continue;
        throw zmq::error_t();
      }
      if (items[5].revents & ZMQ_POLLIN) {
        std::uint64_t count;
        [[maybe_unused]] const auto r = ::read(wake_.get(), &count, sizeof count);
      }
      if (items[0].revents & ZMQ_POLLIN) drain(shell_, channel::shell);
      if (items[1].revents & ZMQ_POLLIN) drain(control_, channel::control);
      if (items[2].revents & ZMQ_POLLIN) drain(stdin_, channel::input);
      if (items[3].revents & ZMQ_POLLIN) drain(iopub_, channel::iopub);
      if (items[4].revents & ZMQ_POLLIN) receive_pong();
      if (watching_process && (items[6].revents & (ZMQ_POLLIN | ZMQ_POLLERR))) {
        // Deliver what the kernel said before it died, then report it; stop polling the fd (it
        // stays readable) until the owner watches a new process.
        drain(iopub_, channel::iopub);
        drain(shell_, channel::shell);
        process_fd_ = -1;
        report_dead((process_name_.empty() ? std::string("the kernel process") : process_name_) + " exited");
      }
    }
  }

  void send_frames(outgoing& out) {
    zmq::socket_t& s = out.chan == channel::control ? control_ : out.chan == channel::input ? stdin_ : shell_;
    for (std::size_t i = 0; i < out.frames.size(); ++i) {
      const auto flags = i + 1 < out.frames.size() ? zmq::send_flags::sndmore | zmq::send_flags::dontwait
                                                   : zmq::send_flags::dontwait;
      // sndhwm 0 and lazy connect: a DEALER queues instead of refusing, so dontwait cannot lose it.
      (void)s.send(zmq::buffer(out.frames[i]), flags);
    }
  }

  void drain(zmq::socket_t& s, channel c) {
    // Bounded batch per wake-up so one busy channel cannot starve the heartbeat or commands.
    for (int i = 0; i < 256; ++i) {
      std::vector<zmq::message_t> parts;
      for (;;) {
        zmq::message_t part;
        const auto got = s.recv(part, zmq::recv_flags::dontwait);
        if (!got) break;
        const bool more = part.more();
        parts.push_back(std::move(part));
        if (!more) break;
      }
      if (parts.empty()) return;
      std::vector<std::string_view> views;
      views.reserve(parts.size());
      for (const auto& p : parts) views.emplace_back(static_cast<const char*>(p.data()), p.size());
      try {
        zmq_decoded d = decode_zmq(views, signer_, c, &replay_);
        if (handlers_.on_message) handlers_.on_message(std::move(d.msg));
      } catch (const error& e) {
        if (handlers_.on_dropped) {
          try {
            handlers_.on_dropped(e);
          } catch (...) {
          }
        }
      } catch (...) {  // a throwing on_message handler: dropped, the transport goes on
      }
    }
  }

  void heartbeat_tick() {
    if (!heartbeat_enabled_) return;
    const auto now = clock::now();
    if (now < next_ping_) return;
    // A pong may be waiting unread when this thread was held up (a slow handler): take it first.
    if (ping_outstanding_) receive_pong();
    if (ping_outstanding_) {
      ++misses_;
      make_heartbeat();  // the REQ is stuck waiting for a reply that never came
      if (misses_ >= options_.heartbeat_misses)
        report_dead("no heartbeat from the kernel at " + options_.connection.endpoint(channel::heartbeat) + " for " +
                    std::to_string(options_.heartbeat_interval.count() * misses_) + " ms");
    }
    (void)heartbeat_.send(zmq::str_buffer("ping"), zmq::send_flags::dontwait);
    ping_outstanding_ = true;
    next_ping_ = now + options_.heartbeat_interval;
  }

  void receive_pong() {
    zmq::message_t pong;
    // One reply per ping: a REQ socket may not receive again before it sends.
    if (!heartbeat_.recv(pong, zmq::recv_flags::dontwait)) return;
    ping_outstanding_ = false;
    misses_ = 0;
    // Back after missed pongs (an overloaded machine), unless the watched process is known to be gone.
    const bool process_gone = process_fd_ < 0 && !process_name_.empty();
    if (dead_reported_ && !process_gone) {
      dead_reported_ = false;
      emit_peer({peer_state::reconnected, "the kernel's heartbeat is back"});
    }
  }

  zmq_transport_options options_;
  signer signer_;
  replay_guard replay_;
  zmq::context_t context_;
  zmq::socket_t shell_, control_, stdin_, iopub_, heartbeat_;
  unique_fd wake_;

  // Shared with other threads, under mutex_.
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<outgoing> outbox_;
  std::deque<std::shared_ptr<watch_command>> watches_;
  bool stopping_ = false;
  bool started_ = false;
  bool thread_exited_ = false;
  std::mutex close_mutex_;
  std::atomic<bool> open_{false};
  std::thread thread_;
  transport_handlers handlers_;

  // I/O thread only (or before it starts / after it stopped).
  int process_fd_ = -1;
  std::string process_name_;
  bool heartbeat_enabled_ = true;
  bool ping_outstanding_ = false;
  int misses_ = 0;
  bool dead_reported_ = false;
  clock::time_point next_ping_{};
};

}  // namespace

std::unique_ptr<zmq_transport> zmq_transport::make(zmq_transport_options options) {
  return std::make_unique<zmq_transport_impl>(std::move(options));
}

}  // namespace kernelgate::detail
