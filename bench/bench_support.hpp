#ifndef KERNELGATE_BENCH_SUPPORT_HPP
#define KERNELGATE_BENCH_SUPPORT_HPP

// What every side-by-side benchmark shares: clocks, the statistics it reports, the one JSON line per
// metric, the machine's load, and the peer: a program in another language doing the same work,
// asked one line at a time (or run once) as a child process.

// The library's RAII child process (pipes, process group, reaping).
#include "detail/process.hpp"

#include <nlohmann/json.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace kgbench {

using clock_type = std::chrono::steady_clock;

inline double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

inline double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

/// The q-quantile of the samples, 0 < q < 1. The median is the middle sample (the mean of the two
/// middle ones for an even count); any other quantile is the nearest rank, the ceil(q·n)-th
/// smallest sample. 0 for no samples.
inline double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  if (q == 0.5) return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(n)));
  return v[std::clamp<std::size_t>(rank, 1, n) - 1];
}
inline double median(std::vector<double> v) { return quantile(std::move(v), 0.5); }
inline double p99(std::vector<double> v) { return quantile(std::move(v), 0.99); }

/// User and system CPU time of this process, all its threads.
inline double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

/// The 1, 5 and 15 minute load averages, for the log: a loaded machine explains odd figures.
inline std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

/// One result: kernelgate's figure and the peer's, measured in the same run.
struct metric {
  std::string name;
  double ours = 0, peer = 0;
  std::string peer_name, unit;
  std::size_t samples = 0;  ///< per side; 0: not reported
};

/// Prints the metric as one JSON line on stdout, with the ratio ours/peer (below 1: kernelgate is
/// faster).
inline void print_metric(const metric& m) {
  nlohmann::json line{{"metric", m.name},         {"kernelgate", m.ours}, {"peer", m.peer},
                      {"peer_name", m.peer_name}, {"ratio", m.peer > 0 ? m.ours / m.peer : 0.0},
                      {"unit", m.unit}};
  if (m.samples > 0) line["samples"] = m.samples;
  std::cout << line.dump() << std::endl;
}

/// The median of both series as one metric named NAME_median.
inline void print_median(const std::string& name, const std::vector<double>& ours, const std::vector<double>& peer,
                         const std::string& peer_name, const std::string& unit) {
  print_metric({.name = name + "_median", .ours = median(ours), .peer = median(peer), .peer_name = peer_name,
                .unit = unit, .samples = ours.size()});
}

/// The median and the 99th percentile of both series: NAME_median and NAME_p99.
inline void print_median_and_p99(const std::string& name, const std::vector<double>& ours,
                                 const std::vector<double>& peer, const std::string& peer_name,
                                 const std::string& unit) {
  print_median(name, ours, peer, peer_name, unit);
  print_metric({.name = name + "_p99", .ours = p99(ours), .peer = p99(peer), .peer_name = peer_name, .unit = unit,
                .samples = ours.size()});
}

struct peer_options {
  std::vector<std::string> argv;
  std::filesystem::path cwd;  ///< empty: the benchmark's
  bool quiet = false;         ///< its stderr to /dev/null instead of the benchmark's
  /// Longest wait for one answer; past it the peer is taken for stuck.
  std::chrono::milliseconds answer_limit = std::chrono::minutes(10);
};

/// A peer that answers each request line on stdin with one JSON line on stdout. The destructor
/// closes its stdin (its cue to clean up and exit), waits up to 30 s, then kills its process group.
class peer_process {
 public:
  explicit peer_process(peer_options options)
      : options_(std::move(options)),
        child_(kernelgate::detail::child_process::spawn(
            {.argv = options_.argv,
             .cwd = options_.cwd,
             .in = kernelgate::detail::stdio::pipe,
             .out = kernelgate::detail::stdio::pipe,
             .err = options_.quiet ? kernelgate::detail::stdio::null : kernelgate::detail::stdio::inherit})) {}

  /// Sends one request line (no newline in it) and returns the answer line, parsed.
  nlohmann::json ask(const std::string& request) {
    const std::string line = request + "\n";
    for (std::size_t done = 0; done < line.size();) {
      const ssize_t n = ::write(child_.stdin_fd(), line.data() + done, line.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw std::runtime_error(name() + " stopped reading its requests");
      done += static_cast<std::size_t>(n);
    }
    return nlohmann::json::parse(read_line(request));
  }

  ~peer_process() {
    child_.close_stdin();
    (void)child_.wait_for(std::chrono::seconds(30));  // then the child_process destructor kills it
  }
  peer_process(const peer_process&) = delete;
  peer_process& operator=(const peer_process&) = delete;

 private:
  [[nodiscard]] std::string name() const { return options_.argv.size() > 1 ? options_.argv[1] : options_.argv[0]; }

  std::string read_line(const std::string& request) {
    const auto until = clock_type::now() + options_.answer_limit;
    for (;;) {
      if (const auto nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock_type::now());
      if (left.count() <= 0 || !kernelgate::detail::wait_readable(child_.stdout_fd(), left))
        throw std::runtime_error(name() + " gave no answer to '" + request.substr(0, 60) + "' in time");
      char chunk[4096];
      const ssize_t n = ::read(child_.stdout_fd(), chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw std::runtime_error(name() + " exited without answering '" + request.substr(0, 60) + "'");
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  peer_options options_;
  kernelgate::detail::child_process child_;
  std::string buffer_;
};

/// Runs a peer that does its work and prints its results; returns its standard output. Its stderr is
/// discarded (the kernels it starts chatter there).
inline std::string run_peer_to_end(std::vector<std::string> argv,
                                   std::chrono::milliseconds limit = std::chrono::minutes(10)) {
  auto child = kernelgate::detail::child_process::spawn(
      {.argv = argv, .out = kernelgate::detail::stdio::pipe, .err = kernelgate::detail::stdio::null});
  const std::string name = argv.size() > 1 ? argv[1] : argv[0];
  std::string out;
  const auto until = clock_type::now() + limit;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock_type::now());
    if (left.count() <= 0 || !kernelgate::detail::wait_readable(child.stdout_fd(), left))
      throw std::runtime_error(name + " did not finish in time");
    char chunk[65536];
    const ssize_t n = ::read(child.stdout_fd(), chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(chunk, static_cast<std::size_t>(n));
  }
  if (child.wait_for(std::chrono::seconds(30)).value_or(-1) != 0)
    throw std::runtime_error(name + " failed (run it by hand to see why)");
  return out;
}

}  // namespace kgbench

#endif
