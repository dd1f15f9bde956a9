#ifndef KERNELGATE_NOTEBOOK_CELL_OUTPUTS_HPP
#define KERNELGATE_NOTEBOOK_CELL_OUTPUTS_HPP

// Turns a kernel's IOPub messages into nbformat outputs the way nbclient does: output_from_msg
// shapes, clear_output(wait) deferral, update_display_data applied to every earlier output with the
// same display_id (across cells), execution_count from the messages, record_timing metadata — and,
// unlike nbclient 0.7, consecutive stream outputs of one name merged (with \r and \b applied), as
// nbclient's coalesce_streams does, so that kernel-side flush timing does not change the notebook.

#include "kernelgate/wire/message.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace kernelgate::detail {

class notebook_outputs {
 public:
  notebook_outputs(bool coalesce_streams, bool record_timing)
      : coalesce_(coalesce_streams), timing_(record_timing) {}

  /// Starts collecting into cells[index]: outputs emptied, timing metadata reset.
  void begin_cell(nlohmann::json& cells, std::size_t index);
  /// One IOPub message whose parent is the cell's execute_request.
  void on_iopub(const message& m);
  /// The execute_reply of the cell (timing only; status is the runner's business).
  void on_reply(const message& reply);
  /// Ends the cell: final stream clean-up.
  void end_cell();

 private:
  nlohmann::json& cell() { return (*cells_)[index_]; }
  void append(nlohmann::json out, const std::string& display_id);
  void update_display(const std::string& display_id, const nlohmann::json& content);
  void clear_display_map_for_cell();

  bool coalesce_;
  bool timing_;
  nlohmann::json* cells_ = nullptr;
  std::size_t index_ = 0;
  bool clear_pending_ = false;
  // display_id -> cell index -> indices of outputs in that cell showing it
  std::map<std::string, std::map<std::size_t, std::vector<std::size_t>>> displays_;
};

/// Applies carriage returns and backspaces to stream text as a terminal would show it.
[[nodiscard]] std::string apply_terminal_controls(const std::string& text);

}  // namespace kernelgate::detail

#endif
