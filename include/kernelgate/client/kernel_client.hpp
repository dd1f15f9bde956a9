#ifndef KERNELGATE_CLIENT_KERNEL_CLIENT_HPP
#define KERNELGATE_CLIENT_KERNEL_CLIENT_HPP

// The transport-agnostic Jupyter client: requests, typed replies, IOPub correlation by msg_id.
// It runs over any channel_transport (ZeroMQ or a gateway's WebSocket).

#include "kernelgate/client/deadline.hpp"
#include "kernelgate/client/output.hpp"
#include "kernelgate/client/transport.hpp"
#include "kernelgate/error.hpp"
#include "kernelgate/wire/message.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kernelgate {

/// The `status` of a reply.
enum class reply_status { ok, error, aborted };

[[nodiscard]] const char* to_string(reply_status s) noexcept;

/// What every reply carries: its status, the error fields when status is `error`, the raw content.
struct reply_base {
  reply_status status = reply_status::ok;
  std::string ename, evalue;            ///< status error only
  std::vector<std::string> traceback;   ///< status error only, ANSI escapes removed
  nlohmann::json content = nlohmann::json::object();  ///< the reply's content as received
};

/// An `input_request` from the kernel (Python's input() or getpass()).
struct input_prompt {
  std::string prompt;
  bool password = false;
};

/// Answers an input_request with the line the user typed (without newline). Runs on the thread that
/// waits for the request (the caller of execute() or pending_execute::wait()); may block, bounded by
/// that wait's deadline. Exceptions it throws are reported to the error handler and answered with "".
using input_handler = std::function<std::string(const input_prompt&)>;

/// What to run and how: the content of an execute_request plus the client-side hooks.
struct execute_request {
  std::string code;
  bool silent = false;
  bool store_history = true;
  bool stop_on_error = true;
  nlohmann::json user_expressions = nlohmann::json::object();
  /// Called for every IOPub output of this request, on the transport's I/O thread.
  output_handler on_output;
  /// Called for every message of this request as received — its IOPub messages (status,
  /// execute_input, outputs, clear_output, ...) and its execute_reply — on the transport's I/O
  /// thread, before on_output. For consumers that need the raw protocol (notebook runners: timing
  /// metadata, display updates).
  std::function<void(const message&)> on_message;
  /// Answers input(); without one, allow_stdin is false and input() fails at once in the kernel.
  input_handler on_input;
  /// When set, rich outputs (everything but text/plain) are saved into this existing directory,
  /// atomically and under unique names, before on_output sees them; output::files lists them.
  std::optional<std::filesystem::path> output_dir;
  /// False: the result carries the reply (and saved files) but no copy of the outputs, for callers
  /// that take them from on_message or on_output as they come (a notebook runner, a log).
  bool collect_outputs = true;
};

/// The outcome of an execute: reply plus every output published for it, in arrival order.
struct execute_reply : reply_base {
  std::optional<int> execution_count;
  std::vector<output> outputs;
  std::vector<std::string> output_files;  ///< every file saved for this request, in order
  nlohmann::json user_expressions = nlohmann::json::object();
  nlohmann::json payload = nlohmann::json::array();
};

/// kernel_info_reply: who the kernel is and which language it speaks.
struct kernel_info_reply : reply_base {
  std::string protocol_version, implementation, implementation_version, banner;
  std::string language;          ///< language_info.name, e.g. "python"
  std::string language_version;  ///< language_info.version
  std::string file_extension;    ///< language_info.file_extension, e.g. ".py"
  std::string mimetype;          ///< language_info.mimetype
};

/// complete_reply: completions for the text between cursor_start and cursor_end.
struct complete_reply : reply_base {
  std::vector<std::string> matches;
  int cursor_start = 0, cursor_end = 0;
  nlohmann::json metadata = nlohmann::json::object();
};

/// inspect_reply: documentation of the object at the cursor, as a mime bundle.
struct inspect_reply : reply_base {
  bool found = false;
  nlohmann::json data = nlohmann::json::object();  ///< mime bundle
  nlohmann::json metadata = nlohmann::json::object();
};

/// is_complete_reply's verdict: run it now, wait for more lines, it cannot run, or the kernel cannot tell.
enum class code_completeness { complete, incomplete, invalid, unknown };

/// is_complete_reply: whether the code is ready to execute.
struct is_complete_reply : reply_base {
  code_completeness completeness = code_completeness::unknown;
  std::string indent;  ///< incomplete only: what to indent the next line with
};

/// history_request parameters (see the messaging spec).
struct history_query {
  enum class access { range, tail, search };
  access kind = access::tail;
  bool output = false;
  bool raw = true;
  int session = 0, start = 0, stop = 0;  ///< range
  int n = 10;                            ///< tail and search
  std::string pattern;                   ///< search
  bool unique = false;                   ///< search
};

/// One history line: (session, line number, input[, output]).
struct history_entry {
  int session = 0;
  int line = 0;
  std::string input;
  std::optional<std::string> output;  ///< when the query asked for output and there was some
};

/// history_reply: the lines the query matched.
struct history_reply : reply_base {
  std::vector<history_entry> history;
};

/// comm_info_reply: the comms open in the kernel.
struct comm_info_reply : reply_base {
  std::map<std::string, std::string> comms;  ///< comm_id → target_name
};

namespace detail {
struct execute_state;
struct client_core;
}  // namespace detail

/// One execute in flight. Copyable handle; the client keeps collecting outputs while it exists.
/// Thread safety: all members may be called from any thread.
class pending_execute {
 public:
  /// The msg_id of the execute_request (the parent of all its outputs).
  [[nodiscard]] const std::string& msg_id() const noexcept;

  /// Waits until both execute_reply and IOPub idle arrived, answering input requests on this thread.
  /// @returns true when done, false when the deadline passed first (the request stays in flight).
  /// @throws kernelgate::error(errc::kernel_died) when the kernel died or restarted before the end;
  ///         errc::not_connected when the client was closed.
  [[nodiscard]] bool wait(deadline until);
  /// Waits until the execute_reply arrived, answering input requests on this thread. The kernel has
  /// then finished running the code, but IOPub output may still be on its way until idle: wait()
  /// collects the rest. Lets a caller send its next request while this one's output drains.
  /// @returns the reply's status (and error fields), or nullopt when the deadline passed first.
  /// @throws as wait().
  [[nodiscard]] std::optional<reply_base> wait_for_reply(deadline until);

  /// Whether the request has finished (reply and idle both seen).
  [[nodiscard]] bool done() const;

  /// The result: complete when done(); otherwise the outputs so far, status `aborted`, no count.
  [[nodiscard]] execute_reply result() const;
  /// As result(), moving the collected outputs out instead of copying them (large streams); later
  /// calls see the outputs collected after this one only.
  [[nodiscard]] execute_reply take_result();

  /// Stops tracking: late outputs of this request are ignored. wait() then throws errc::cancelled.
  /// A handler call already under way on the transport's thread may still finish after this
  /// returns: handlers of a request that may be abandoned should share ownership of what they touch.
  void abandon() noexcept;

 private:
  friend class kernel_client;
  explicit pending_execute(std::shared_ptr<detail::execute_state> state) : state_(std::move(state)) {}
  std::shared_ptr<detail::execute_state> state_;
};

/// Options of a kernel_client.
struct kernel_client_options {
  /// The session and user name stamped on every request.
  session_identity identity;
  /// Receives dropped frames (forged, replayed, malformed), exceptions thrown by output handlers, and
  /// unexpected replies. Runs on the transport's I/O thread. Nothing is printed by the library.
  std::function<void(const error&)> on_error;
  /// Sees every IOPub message (after routing), e.g. to follow other clients' executions.
  std::function<void(const message&)> on_iopub;
};

/// A Jupyter client over one channel transport.
///
/// Requests from several threads may be in flight at once: replies and IOPub output are matched to
/// their request by msg_id. An execute finishes when both its execute_reply and its IOPub `idle`
/// have arrived. Every blocking call takes a deadline and also ends when the peer dies
/// (errc::kernel_died, with the transport's reason) — never a hang.
///
/// Move-only (the state lives behind a pointer, so handles stay valid across moves).
/// Thread safety: every member function may be called concurrently, except move and destruction.
class kernel_client {
 public:
  /// Takes ownership of the transport and starts it.
  /// @throws kernelgate::error(errc::invalid_argument) for a null transport.
  explicit kernel_client(std::unique_ptr<channel_transport> transport, kernel_client_options options = {});
  kernel_client(kernel_client&&) noexcept;
  kernel_client& operator=(kernel_client&&) noexcept;
  kernel_client(const kernel_client&) = delete;
  kernel_client& operator=(const kernel_client&) = delete;
  /// Closes the transport; pending requests fail with errc::not_connected.
  ~kernel_client();

  /// Sends kernel_info_request until a reply arrives *and* IOPub traffic has been seen (or an
  /// iopub_welcome), so that no output of the first execute is lost to a late subscription.
  /// @throws kernelgate::error(errc::timeout) naming what was missing; errc::kernel_died.
  kernel_info_reply wait_for_ready(deadline until);

  /// Starts an execute and returns at once.
  /// @throws kernelgate::error(errc::kernel_died) when the peer is known dead; errc::not_connected.
  [[nodiscard]] pending_execute execute_async(execute_request request);

  /// Runs code to completion (reply and idle).
  /// @throws kernelgate::error(errc::timeout) at the deadline (the request is abandoned, the kernel
  ///         not interrupted); errc::kernel_died; errc::not_connected.
  execute_reply execute(execute_request request, deadline until);
  execute_reply execute(std::string code, deadline until);

  /// The typed requests: each sends on shell and waits for its reply (not for IOPub idle).
  /// @throws kernelgate::error(errc::timeout) at the deadline; errc::kernel_died; errc::not_connected.
  kernel_info_reply kernel_info(deadline until);
  complete_reply complete(const std::string& code, int cursor_pos, deadline until);
  inspect_reply inspect(const std::string& code, int cursor_pos, int detail_level, deadline until);
  is_complete_reply is_complete(const std::string& code, deadline until);
  history_reply history(const history_query& query, deadline until);
  comm_info_reply comm_info(const std::string& target_name, deadline until);

  /// interrupt_request on control (for kernels with interrupt_mode "message"); waits for the reply.
  reply_base interrupt(deadline until);
  /// shutdown_request on control; waits for the reply (the kernel may exit without one: a peer
  /// death after sending counts as success).
  void shutdown(bool restart, deadline until);

  /// Escape hatch: any request on shell or control, its reply message returned as received.
  /// @throws kernelgate::error(errc::timeout), errc::kernel_died, errc::not_connected.
  message request(std::string_view msg_type, nlohmann::json content, channel chan, deadline until);

  /// False once the peer was reported dead (until it is reported reconnected).
  [[nodiscard]] bool alive() const noexcept;
  /// Why the peer is considered dead ("" when alive).
  [[nodiscard]] std::string death_reason() const;

  /// Clears a `dead` state after the kernel behind the transport was restarted by its owner.
  void reset_liveness() noexcept;

  /// The identity stamped on requests.
  [[nodiscard]] const session_identity& identity() const noexcept;
  /// The transport (for its owner's liveness controls). Valid while the client lives.
  [[nodiscard]] channel_transport& transport() noexcept;

  /// Closes the transport; pending requests fail with errc::not_connected. Idempotent.
  void close() noexcept;

 private:
  std::shared_ptr<detail::client_core> core_;
};

/// The output an IOPub message carries, or nullopt for messages that are not outputs (status,
/// execute_input, comm_*...). text is the stream text, the text/plain of a bundle, or "ename: evalue".
[[nodiscard]] std::optional<output> to_output(const message& iopub);
/// As above, moving stream text out of `iopub` instead of copying it.
[[nodiscard]] std::optional<output> to_output(message&& iopub);

/// `s` with ANSI escape sequences (colours, cursor movement) removed.
[[nodiscard]] std::string strip_ansi(std::string_view s);

/// Saves the rich data of `out` (every mime type but text/plain) into `dir`, each under a fresh
/// unique name (output_1.png, output_2.html, ...) written atomically; appends the paths to
/// out.files. Base64 payloads (images, PDF) are decoded; JSON values are written as JSON.
/// @throws kernelgate::error(errc::io_error) naming the directory; errc::malformed_message for bad base64.
void save_rich_data(output& out, const std::filesystem::path& dir);

}  // namespace kernelgate

#endif
