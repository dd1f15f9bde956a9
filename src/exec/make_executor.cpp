#include "kernelgate/exec/make_executor.hpp"

#include "kernelgate/error.hpp"

namespace kernelgate {

namespace {

// Applies the chain-wide settings to one backend's options.
template <class Options>
Options with_shared(Options o, const executor_options& shared) {
  if (!shared.work_dir.empty()) o.work_dir = shared.work_dir;
  if (shared.timeout) o.timeout = *shared.timeout;
  return o;
}

// A gateway kernel runs on the server: the local work directory is where its rich outputs land.
gateway_executor_options with_shared(gateway_executor_options o, const executor_options& shared) {
  if (!shared.work_dir.empty()) o.output_dir = shared.work_dir;
  if (shared.timeout) o.timeout = *shared.timeout;
  return o;
}

std::unique_ptr<code_executor> start(backend b, const executor_options& options) {
  switch (b) {
    case backend::kernel: return make_kernel_executor(with_shared(options.kernel, options));
    case backend::local: return make_local_executor(with_shared(options.local, options));
    case backend::docker: return make_docker_executor(with_shared(options.docker, options));
    case backend::gateway:
      if (options.gateway.gateway.url.empty())
        throw error(errc::invalid_argument, "no gateway URL configured (executor_options::gateway.gateway.url)");
      return make_gateway_executor(with_shared(options.gateway, options));
  }
  throw error(errc::invalid_argument, "unknown backend");
}

}  // namespace

std::string executor_choice::explain() const {
  std::string text;
  for (const auto& s : skipped) text += std::string(to_string(s.which)) + ": skipped (" + s.reason + ")\n";
  if (executor) text += std::string(to_string(chosen)) + ": chosen\n";
  return text;
}

executor_choice make_executor(executor_options options) {
  if (options.chain.empty()) throw error(errc::invalid_argument, "make_executor: the backend chain is empty");
  executor_choice choice;
  if (options.chain.size() == 1) {
    // One backend: its own error says best what went wrong.
    choice.chosen = options.chain.front();
    choice.executor = start(choice.chosen, options);
    return choice;
  }
  for (const backend b : options.chain) {
    try {
      choice.executor = start(b, options);
      choice.chosen = b;
      return choice;
    } catch (const error& e) {
      choice.skipped.push_back({b, e.what()});
    } catch (const std::exception& e) {
      choice.skipped.push_back({b, e.what()});
    }
  }
  throw error(errc::no_executor_available,
              "no executor could start; tried:\n" + choice.explain() +
                  "install a kernel (python3-ipykernel), start a gateway, or start dockerd, then try again");
}

}  // namespace kernelgate
