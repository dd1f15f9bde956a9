#include "detail/loopback.hpp"

#include "kernelgate/error.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace kernelgate::detail {

bound_port bind_loopback_port() {
  unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw error(errc::io_error, std::string("cannot create a socket to find a free port: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw error(errc::io_error, std::string("cannot bind a port on 127.0.0.1: ") + std::strerror(errno));
  return {.socket = std::move(fd), .port = ntohs(addr.sin_port)};
}

}  // namespace kernelgate::detail
