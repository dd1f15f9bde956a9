#include "notebook/cell_outputs.hpp"

namespace kernelgate::detail {

using json = nlohmann::json;

namespace {

std::string header_date(const message& m) {
  return m.header.is_object() ? m.header.value("date", std::string()) : std::string();
}

std::string display_id_of(const json& content) {
  if (!content.contains("transient") || !content["transient"].is_object()) return {};
  const auto& t = content["transient"];
  return t.contains("display_id") && t["display_id"].is_string() ? t["display_id"].get<std::string>() : std::string();
}

json object_or_empty(const json& content, const char* key) {
  return content.contains(key) && content[key].is_object() ? content[key] : json::object();
}

}  // namespace

std::string apply_terminal_controls(const std::string& text) {
  // Line by line: a \r not followed by \n returns to the start of the line (what follows overwrites
  // everything before it), a \b erases the character before it.
  std::string out;
  std::string line;
  const auto flush_line = [&] {
    out += line;
    line.clear();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\r' && i + 1 < text.size() && text[i + 1] != '\n') {
      line.clear();
    } else if (c == '\b') {
      if (!line.empty()) {
        // Erase one whole UTF-8 character.
        std::size_t n = line.size() - 1;
        while (n > 0 && (static_cast<unsigned char>(line[n]) & 0xC0) == 0x80) --n;
        line.erase(n);
      }
    } else {
      line += c;
      if (c == '\n') flush_line();
    }
  }
  flush_line();
  return out;
}

void notebook_outputs::begin_cell(json& cells, std::size_t index) {
  cells_ = &cells;
  index_ = index;
  clear_pending_ = false;
  cell()["outputs"] = json::array();
  if (timing_) cell()["metadata"]["execution"] = json::object();
}

void notebook_outputs::clear_display_map_for_cell() {
  for (auto& [id, per_cell] : displays_) {
    const auto it = per_cell.find(index_);
    if (it != per_cell.end()) it->second.clear();
  }
}

void notebook_outputs::update_display(const std::string& display_id, const json& content) {
  const auto found = displays_.find(display_id);
  if (found == displays_.end()) return;
  for (const auto& [cell_index, output_indices] : found->second) {
    auto& outputs = (*cells_)[cell_index]["outputs"];
    for (const auto i : output_indices) {
      if (i >= outputs.size()) continue;
      outputs[i]["data"] = object_or_empty(content, "data");
      outputs[i]["metadata"] = object_or_empty(content, "metadata");
    }
  }
}

void notebook_outputs::append(json out, const std::string& display_id) {
  auto& outputs = cell()["outputs"];
  if (clear_pending_) {
    outputs = json::array();
    clear_display_map_for_cell();
    clear_pending_ = false;
  }
  if (coalesce_ && out["output_type"] == "stream" && !outputs.empty() && outputs.back()["output_type"] == "stream" &&
      outputs.back()["name"] == out["name"]) {
    outputs.back()["text"] = outputs.back()["text"].get<std::string>() + out["text"].get<std::string>();
    return;
  }
  if (!display_id.empty()) displays_[display_id][index_].push_back(outputs.size());
  outputs.push_back(std::move(out));
}

void notebook_outputs::on_iopub(const message& m) {
  if (!cells_) return;
  const auto type = m.msg_type();
  const json& content = m.content.is_object() ? m.content : json::object();
  const auto display_id = display_id_of(content);
  if (!display_id.empty() && (type == "execute_result" || type == "display_data" || type == "update_display_data"))
    update_display(display_id, content);
  if (content.contains("execution_count") && (content["execution_count"].is_number_integer()))
    cell()["execution_count"] = content["execution_count"];

  if (timing_) {
    auto& execution = cell()["metadata"]["execution"];
    if (type == "status") {
      const auto state = content.value("execution_state", std::string());
      if (state == "busy") execution["iopub.status.busy"] = header_date(m);
      else if (state == "idle") execution["iopub.status.idle"] = header_date(m);
    } else if (type == "execute_input") {
      execution["iopub.execute_input"] = header_date(m);
    }
  }

  if (type == "clear_output") {
    if (content.value("wait", false)) {
      clear_pending_ = true;
    } else {
      cell()["outputs"] = json::array();
      clear_display_map_for_cell();
    }
  } else if (type == "stream") {
    append({{"output_type", "stream"},
            {"name", content.value("name", std::string("stdout"))},
            {"text", content.value("text", std::string())}},
           {});
  } else if (type == "display_data") {
    append({{"output_type", "display_data"},
            {"data", object_or_empty(content, "data")},
            {"metadata", object_or_empty(content, "metadata")}},
           display_id);
  } else if (type == "execute_result") {
    append({{"output_type", "execute_result"},
            {"data", object_or_empty(content, "data")},
            {"metadata", object_or_empty(content, "metadata")},
            {"execution_count", content.contains("execution_count") ? content["execution_count"] : json(nullptr)}},
           display_id);
  } else if (type == "error") {
    append({{"output_type", "error"},
            {"ename", content.value("ename", std::string())},
            {"evalue", content.value("evalue", std::string())},
            {"traceback", content.contains("traceback") && content["traceback"].is_array() ? content["traceback"]
                                                                                            : json::array()}},
           {});
  }
}

void notebook_outputs::on_reply(const message& reply) {
  if (cells_ && timing_) cell()["metadata"]["execution"]["shell.execute_reply"] = header_date(reply);
}

void notebook_outputs::end_cell() {
  if (!cells_) return;
  if (coalesce_) {
    for (auto& out : cell()["outputs"]) {
      if (out["output_type"] == "stream") out["text"] = apply_terminal_controls(out["text"].get<std::string>());
    }
  }
}

}  // namespace kernelgate::detail
