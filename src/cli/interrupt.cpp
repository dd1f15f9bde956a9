#include "cli/interrupt.hpp"

#include <pthread.h>

namespace kernelgate::cli {

// SIGUSR1 is how the destructor wakes the waiting thread to end it.
interrupt_watcher::interrupt_watcher() {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGINT);
  sigaddset(&signals_, SIGTERM);
  sigaddset(&signals_, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
  thread_ = std::thread([this] {
    for (;;) {
      int sig = 0;
      if (sigwait(&signals_, &sig) != 0 || sig == SIGUSR1) return;
      source_.request_stop();
    }
  });
}

interrupt_watcher::~interrupt_watcher() {
  pthread_kill(thread_.native_handle(), SIGUSR1);
  thread_.join();
}

}  // namespace kernelgate::cli
