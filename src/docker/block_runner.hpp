#ifndef KERNELGATE_SRC_DOCKER_BLOCK_RUNNER_HPP
#define KERNELGATE_SRC_DOCKER_BLOCK_RUNNER_HPP

// The block runner: one long-lived POSIX sh loop inside the container, attached through a single
// exec, that runs each block it reads on stdin. A Docker exec costs the daemon tens of
// milliseconds or more (runc sets up a process in the container's namespaces); the runner pays it
// once per container instead of once per block.
//
// Protocol. kernelgate writes one line per block: `kg_n=<nonce>; kg_t=<seconds>; set -- <argv>`
// (every argv element single-quoted). The runner starts `timeout -k <grace> <seconds> argv...` in
// the background with stdin from /dev/null (timeout leads a new process group holding the block),
// writes that group's id to a pid file (so another exec can kill the group), waits for it, kills
// whatever the block left running in the group, and writes an end marker carrying the nonce and
// the exit status to BOTH stdout and stderr: the daemon copies the two streams independently, so
// only when both markers have arrived has all of the block's output arrived. The nonce is random
// per block, so output that imitates a marker is taken for output.

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kernelgate::docker::detail {

/// The runner's sh program.
[[nodiscard]] std::string runner_script(std::string_view pid_file, std::chrono::seconds kill_after);

/// `s` as one sh word in single quotes ('it'\''s').
[[nodiscard]] std::string sh_quote(std::string_view s);

/// The line that asks the runner to run `argv` under `timeout`.
/// @throws kernelgate::error(errc::invalid_argument) when an argument holds a newline or NUL.
[[nodiscard]] std::string runner_command(std::string_view nonce, std::chrono::milliseconds timeout,
                                         const std::vector<std::string>& argv);

/// The timeout as seconds with milliseconds ("1.500"), the form `timeout` accepts.
[[nodiscard]] std::string seconds_text(std::chrono::milliseconds d);

/// Takes the runner's stdout and stderr for one block, passes the block's output on as it arrives
/// (holding back only bytes that may start the end marker) and notices the end markers.
class block_output_splitter {
 public:
  using sink = std::function<void(std::string_view stream, std::string_view data)>;
  block_output_splitter(std::string_view nonce, sink on_output);

  void feed(std::string_view stream, std::string_view data);
  /// Both streams have delivered their end marker.
  [[nodiscard]] bool done() const noexcept { return out_.done && err_.done; }
  /// The block's exit status from the markers (the stdout one), once seen.
  [[nodiscard]] std::optional<int> exit_status() const noexcept { return status_; }
  /// Passes on what is held back (when the block ends without markers).
  void flush();

 private:
  struct stream_state {
    std::string pending;
    bool done = false;
  };
  void scan(std::string_view name, stream_state& st);

  std::string marker_;
  sink on_output_;
  stream_state out_, err_;
  std::optional<int> status_;
};

}  // namespace kernelgate::docker::detail

#endif
