#ifndef KERNELGATE_CLI_OPTIONS_HPP
#define KERNELGATE_CLI_OPTIONS_HPP

// The `kernelgate` command line, parsed.

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace kernelgate {
class code_executor;
struct gateway_options;
}

namespace kernelgate::cli {

/// Bad flags or input: the command prints the message and exits with status 2.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class command { help, version, exec, run, reply, kernelspecs, notebook_run };

struct options {
  command cmd = command::help;
  std::vector<std::string> codes;        ///< exec: -c CODE, one block each
  std::optional<std::string> language;   ///< --lang
  std::vector<std::string> files;        ///< run: FILE...; reply: FILE or "-"
  std::string executor = "auto";         ///< --executor auto|kernel|gateway|local|docker
  std::string kernel;                    ///< -k/--kernel NAME (kernelspec)
  std::filesystem::path connection_file; ///< --connection-file F (attach to a running kernel)
  std::string image;                     ///< --image IMAGE (docker executor)
  std::string gateway;                   ///< --gateway URL (kernels through a Jupyter server / gateway)
  std::optional<std::string> token;      ///< --token T (else KERNELGATE_GATEWAY_TOKEN)
  std::filesystem::path ca_file;         ///< --ca-file F
  bool insecure = false;                 ///< --insecure: no TLS verification
  std::filesystem::path output;          ///< notebook run: -o OUT
  bool inplace = false;                  ///< notebook run: --inplace
  std::vector<std::pair<std::string, std::string>> parameters;  ///< notebook run: -p NAME VALUE
  bool allow_errors = false;             ///< notebook run: --allow-errors
  bool keep_going = false;               ///< notebook run: --keep-going (after a cell timeout)
  bool papermill_metadata = false;       ///< notebook run: --papermill-metadata
  bool prepare_only = false;             ///< notebook run: --prepare-only
  std::filesystem::path work_dir;        ///< --work-dir; empty: a temporary directory
  std::optional<std::chrono::milliseconds> timeout;  ///< --timeout SECONDS, per block
  bool json = false;                     ///< --json
  bool approve = false;                  ///< reply --approve
};

/// Parses argv (without argv[0]). @throws usage_error.
[[nodiscard]] options parse(const std::vector<std::string>& args);

/// The --help text.
[[nodiscard]] const char* help_text() noexcept;

/// Builds the executor the options name. The one place where a backend is chosen: wiring in
/// another backend (kernel, gateway, docker, auto) means adding a case here.
/// @throws usage_error for an unknown or unavailable executor; kernelgate::error when it cannot start.
[[nodiscard]] std::unique_ptr<code_executor> make_executor(const options& opts);

/// The gateway connection the options describe (--gateway, --token, --ca-file, --insecure).
[[nodiscard]] gateway_options gateway_options_of(const options& opts);

}  // namespace kernelgate::cli

#endif
