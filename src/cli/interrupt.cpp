#include "cli/interrupt.hpp"

#include "kernelgate/error.hpp"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace kernelgate::cli {

interrupt_watcher::interrupt_watcher() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signals_.reset(::signalfd(-1, &set, SFD_CLOEXEC));
  shutdown_.reset(::eventfd(0, EFD_CLOEXEC));
  if (!signals_ || !shutdown_)
    throw error(errc::io_error, std::string("cannot watch for Ctrl-C: ") + std::strerror(errno));
  thread_ = std::thread([this] {
    for (;;) {
      pollfd fds[2] = {{signals_.get(), POLLIN, 0}, {shutdown_.get(), POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[1].revents != 0) return;
      signalfd_siginfo info;
      if (::read(signals_.get(), &info, sizeof info) != static_cast<ssize_t>(sizeof info)) continue;
      // A second interrupt while the first is still being honoured (say at the --approve prompt)
      // ends the command at once.
      if (source_.stop_requested()) std::_Exit(130);
      source_.request_stop();
    }
  });
}

interrupt_watcher::~interrupt_watcher() {
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto w = ::write(shutdown_.get(), &one, sizeof one);
  thread_.join();
}

}  // namespace kernelgate::cli
