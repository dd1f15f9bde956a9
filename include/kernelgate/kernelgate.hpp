#ifndef KERNELGATE_KERNELGATE_HPP
#define KERNELGATE_KERNELGATE_HPP

// Umbrella header: everything a user of kernelgate needs.

#include "kernelgate/error.hpp"

#include "kernelgate/wire/message.hpp"
#include "kernelgate/wire/signer.hpp"
#include "kernelgate/wire/ws_codec.hpp"
#include "kernelgate/wire/zmq_codec.hpp"

#include "kernelgate/kernel/connection_file.hpp"
#include "kernelgate/kernel/kernel_session.hpp"
#include "kernelgate/kernel/kernelspec.hpp"

#include "kernelgate/client/deadline.hpp"
#include "kernelgate/client/kernel_client.hpp"
#include "kernelgate/client/output.hpp"
#include "kernelgate/client/transport.hpp"

#include "kernelgate/docker/client.hpp"

#include "kernelgate/gateway/gateway_client.hpp"
#include "kernelgate/gateway/gateway_session.hpp"
#include "kernelgate/gateway/gateway_transport.hpp"

#include "kernelgate/exec/code_executor.hpp"
#include "kernelgate/exec/docker_executor.hpp"
#include "kernelgate/exec/gateway_executor.hpp"
#include "kernelgate/exec/kernel_executor.hpp"
#include "kernelgate/exec/local_executor.hpp"
#include "kernelgate/exec/make_executor.hpp"
#include "kernelgate/exec/markdown.hpp"
#include "kernelgate/exec/reply.hpp"

#include "kernelgate/notebook/notebook.hpp"
#include "kernelgate/notebook/notebook_runner.hpp"

#endif
