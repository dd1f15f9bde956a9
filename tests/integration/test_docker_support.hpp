#ifndef KERNELGATE_TESTS_DOCKER_SUPPORT_HPP
#define KERNELGATE_TESTS_DOCKER_SUPPORT_HPP

// What the Docker integration tests share: the daemon (or a skip/fail when it is absent) and the
// locally built test image.

#include "kernelgate/docker/client.hpp"
#include "kernelgate/error.hpp"
#include "support.hpp"

#include <optional>
#include <string>

namespace kgtest {

inline const std::string docker_test_image = "kernelgate-test:bookworm";

/// A client of the daemon at DOCKER_HOST (or the default socket). Requires the daemon, and the
/// test image when `need_image`.
inline kernelgate::docker::client& docker_daemon(bool need_image = true) {
  static std::optional<kernelgate::docker::client> c = [] {
    try {
      return std::optional<kernelgate::docker::client>(std::in_place);
    } catch (const kernelgate::error& e) {
      require_service(false, std::string("dockerd (") + e.what() + ")");
      return std::optional<kernelgate::docker::client>();
    }
  }();
  if (need_image) {
    static const bool image = c->inspect_image(docker_test_image).has_value();
    require_service(image, docker_test_image + " (run scripts/build-test-image)");
  }
  return *c;
}

}  // namespace kgtest

#endif
