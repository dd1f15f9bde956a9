#ifndef KERNELGATE_NOTEBOOK_NOTEBOOK_HPP
#define KERNELGATE_NOTEBOOK_NOTEBOOK_HPP

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kernelgate {

/// An nbformat 4 notebook (minor versions 0 to 5) held as JSON.
///
/// In memory, multi-line strings (cell sources, stream text, text mime data) are single strings;
/// dump() splits them into lines as nbformat writes them. Cell ids are kept; a 4.5 notebook whose
/// cells lack ids gets fresh ones, as nbformat's normalisation does. Value type; not thread-safe.
class notebook {
 public:
  /// Parses and validates notebook JSON.
  /// @throws kernelgate::error(errc::malformed_notebook) naming `source` and what is wrong.
  [[nodiscard]] static notebook parse(std::string_view text, std::string_view source = "<string>");
  /// Reads and validates a notebook file.
  /// @throws kernelgate::error(errc::io_error | errc::malformed_notebook) naming the file.
  [[nodiscard]] static notebook read(const std::filesystem::path& path);

  /// nbformat's file form: one-space indent, sorted keys, UTF-8, lines split, final newline.
  [[nodiscard]] std::string dump() const;
  /// Writes dump() atomically (temporary file + rename): readers never see half a notebook.
  /// @throws kernelgate::error(errc::io_error) naming the path.
  void write(const std::filesystem::path& path) const;

  [[nodiscard]] nlohmann::json& cells() { return nb_["cells"]; }
  [[nodiscard]] const nlohmann::json& cells() const { return nb_.at("cells"); }
  [[nodiscard]] nlohmann::json& metadata() { return nb_["metadata"]; }
  [[nodiscard]] const nlohmann::json& metadata() const { return nb_.at("metadata"); }
  /// The whole notebook as JSON (lines joined).
  [[nodiscard]] const nlohmann::json& raw() const noexcept { return nb_; }
  [[nodiscard]] int minor_version() const { return nb_.value("nbformat_minor", 0); }

  /// metadata.kernelspec.name, or "" when the notebook names no kernel.
  [[nodiscard]] std::string kernel_name() const;
  /// The notebook's language: kernelspec.language, else language_info.name, else "python".
  [[nodiscard]] std::string language() const;

  /// A new code cell in the notebook's format (with an id when the notebook has ids).
  [[nodiscard]] nlohmann::json make_code_cell(std::string source, std::vector<std::string> tags = {}) const;

 private:
  explicit notebook(nlohmann::json nb) : nb_(std::move(nb)) {}
  nlohmann::json nb_;
};

/// The tags of a cell (metadata.tags), empty when none.
[[nodiscard]] std::vector<std::string> cell_tags(const nlohmann::json& cell);
[[nodiscard]] bool cell_has_tag(const nlohmann::json& cell, std::string_view tag);

/// Papermill-style parameters, in the order given.
using parameter_list = std::vector<std::pair<std::string, nlohmann::json>>;

/// A value given on a command line, typed as papermill types `-p` values: integers, floats,
/// True/False, None, and anything else as a string.
[[nodiscard]] nlohmann::json parse_parameter_value(std::string_view text);

/// Source code assigning the parameters in `language` (python, r, julia, bash/sh).
/// @throws kernelgate::error(errc::invalid_argument) for another language or an invalid name.
[[nodiscard]] std::string parameters_source(const parameter_list& parameters, std::string_view language);

/// Inserts a cell tagged `injected-parameters` after the first cell tagged `parameters` (at the
/// top when there is none), replacing an earlier injected cell, and records the values in
/// metadata.papermill.parameters. Does nothing when `parameters` is empty.
void inject_parameters(notebook& nb, const parameter_list& parameters);

}  // namespace kernelgate

#endif
