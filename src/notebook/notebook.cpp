#include "kernelgate/notebook/notebook.hpp"

#include "detail/files.hpp"
#include "kernelgate/error.hpp"
#include "kernelgate/wire/message.hpp"

#include <algorithm>
#include <set>

namespace kernelgate {

namespace {

using json = nlohmann::json;

[[noreturn]] void invalid(std::string_view source, const std::string& where, const std::string& what) {
  throw error(errc::malformed_notebook, "notebook " + std::string(source) + " is not a valid nbformat 4 notebook: " +
                                            where + (where.empty() ? "" : ": ") + what);
}

// Python's str.splitlines(keepends=True): the line boundaries nbformat splits on.
std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> lines;
  std::size_t start = 0, i = 0;
  const auto cut = [&](std::size_t end) {
    lines.push_back(s.substr(start, end - start));
    start = end;
  };
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\r') {
      i += (i + 1 < s.size() && s[i + 1] == '\n') ? 2 : 1;
      cut(i);
    } else if (c == '\n' || c == '\v' || c == '\f' || c == 0x1c || c == 0x1d || c == 0x1e) {
      cut(++i);
    } else if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x85) {
      i += 2;  // U+0085 NEXT LINE
      cut(i);
    } else if (c == 0xe2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
               (static_cast<unsigned char>(s[i + 2]) == 0xa8 || static_cast<unsigned char>(s[i + 2]) == 0xa9)) {
      i += 3;  // U+2028 LINE SEPARATOR, U+2029 PARAGRAPH SEPARATOR
      cut(i);
    } else {
      ++i;
    }
  }
  if (start < s.size()) cut(s.size());
  return lines;
}

bool is_json_mime(const std::string& mime) {
  return mime == "application/json" ||
         (mime.starts_with("application/") && mime.size() >= 5 && mime.ends_with("+json"));
}

bool split_mime(const std::string& mime) {
  return mime.starts_with("text/") || mime == "application/javascript" || mime == "image/svg+xml";
}

// Joins a list of strings in place; anything else is left alone. Returns false for a list that
// holds something other than strings.
bool rejoin(json& value) {
  if (!value.is_array()) return true;
  std::string joined;
  for (const auto& part : value) {
    if (!part.is_string()) return false;
    joined += part.get_ref<const std::string&>();
  }
  value = std::move(joined);
  return true;
}

void rejoin_bundle(json& data) {
  if (!data.is_object()) return;
  for (auto& [mime, value] : data.items())
    if (!is_json_mime(mime) && value.is_array()) (void)rejoin(value);
}

void split_bundle(json& data) {
  if (!data.is_object()) return;
  for (auto& [mime, value] : data.items())
    if (value.is_string() && split_mime(mime)) value = split_lines(value.get<std::string>());
}

bool valid_cell_id(const std::string& id) {
  return !id.empty() && id.size() <= 64 &&
         std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
         });
}

std::string new_cell_id() { return random_hex_id().substr(0, 8); }

void check_output(json& out, std::string_view source, const std::string& where) {
  if (!out.is_object()) invalid(source, where, "an output must be an object");
  const auto type = out.value("output_type", std::string());
  if (type == "stream") {
    if (!out.contains("name") || !out["name"].is_string()) invalid(source, where, "a stream output needs a string 'name'");
    if (!out.contains("text") || !rejoin(out["text"]) || !out["text"].is_string())
      invalid(source, where, "a stream output needs 'text' (a string or a list of strings)");
  } else if (type == "display_data" || type == "execute_result") {
    if (!out.contains("data") || !out["data"].is_object()) invalid(source, where, "'data' must be an object");
    if (!out.contains("metadata") || !out["metadata"].is_object())
      invalid(source, where, "'metadata' must be an object");
    rejoin_bundle(out["data"]);
    if (type == "execute_result" && (!out.contains("execution_count") ||
                                     !(out["execution_count"].is_null() || out["execution_count"].is_number_integer())))
      invalid(source, where, "an execute_result needs 'execution_count' (an integer or null)");
  } else if (type == "error") {
    if (!out.contains("ename") || !out.contains("evalue") || !out.contains("traceback") || !out["traceback"].is_array())
      invalid(source, where, "an error output needs 'ename', 'evalue' and a 'traceback' list");
  } else {
    invalid(source, where, "unknown output_type '" + type + "'");
  }
}

void check_cell(json& cell, std::size_t index, bool needs_id, std::set<std::string>& ids, std::string_view source) {
  const std::string where = "cells[" + std::to_string(index) + "]";
  if (!cell.is_object()) invalid(source, where, "a cell must be an object");
  const auto type = cell.value("cell_type", std::string());
  if (type != "code" && type != "markdown" && type != "raw")
    invalid(source, where, "cell_type must be code, markdown or raw (found '" + type + "')");
  if (!cell.contains("source") || !rejoin(cell["source"]) || !cell["source"].is_string())
    invalid(source, where, "'source' must be a string or a list of strings");
  if (!cell.contains("metadata")) cell["metadata"] = json::object();
  if (!cell["metadata"].is_object()) invalid(source, where, "'metadata' must be an object");
  if (cell.contains("id")) {
    if (!cell["id"].is_string() || !valid_cell_id(cell["id"].get<std::string>()))
      invalid(source, where, "'id' must be 1 to 64 letters, digits, '-' or '_'");
    // Duplicate ids are repaired as nbformat repairs them: the later cell gets a fresh id.
    if (!ids.insert(cell["id"].get<std::string>()).second) cell["id"] = new_cell_id();
  } else if (needs_id) {
    cell["id"] = new_cell_id();
  }
  if (cell.contains("attachments") && cell["attachments"].is_object())
    for (auto& [name, bundle] : cell["attachments"].items()) rejoin_bundle(bundle);
  if (type != "code") return;
  if (!cell.contains("outputs")) cell["outputs"] = json::array();
  if (!cell["outputs"].is_array()) invalid(source, where, "'outputs' must be a list");
  if (!cell.contains("execution_count")) cell["execution_count"] = nullptr;
  if (!(cell["execution_count"].is_null() || cell["execution_count"].is_number_integer()))
    invalid(source, where, "'execution_count' must be an integer or null");
  std::size_t i = 0;
  for (auto& out : cell["outputs"]) check_output(out, source, where + ".outputs[" + std::to_string(i++) + "]");
}

}  // namespace

notebook notebook::parse(std::string_view text, std::string_view source) {
  json nb;
  try {
    nb = json::parse(text);
  } catch (const json::parse_error& e) {
    throw error(errc::malformed_notebook, "notebook " + std::string(source) + " is not valid JSON (" + e.what() +
                                              "); is it a .ipynb file?");
  }
  if (!nb.is_object()) invalid(source, "", "the top level must be a JSON object");
  if (!nb.contains("nbformat") || !nb["nbformat"].is_number_integer())
    invalid(source, "", "no integer 'nbformat' field; is it a notebook?");
  if (nb["nbformat"].get<int>() != 4)
    invalid(source, "", "it is nbformat " + nb["nbformat"].dump() +
                            "; kernelgate reads nbformat 4 (upgrade it with `jupyter nbconvert --to notebook`)");
  if (!nb.contains("nbformat_minor") || !nb["nbformat_minor"].is_number_integer() || nb["nbformat_minor"].get<int>() < 0)
    invalid(source, "", "'nbformat_minor' must be a non-negative integer");
  if (!nb.contains("metadata")) nb["metadata"] = json::object();
  if (!nb["metadata"].is_object()) invalid(source, "metadata", "must be an object");
  if (!nb.contains("cells") || !nb["cells"].is_array()) invalid(source, "", "'cells' must be a list");
  const bool needs_id = nb["nbformat_minor"].get<int>() >= 5;
  std::set<std::string> ids;
  std::size_t index = 0;
  for (auto& cell : nb["cells"]) check_cell(cell, index++, needs_id, ids, source);
  return notebook(std::move(nb));
}

notebook notebook::read(const std::filesystem::path& path) {
  return parse(detail::read_file(path), path.string());
}

std::string notebook::dump() const {
  json out = nb_;
  auto& meta = out["metadata"];
  for (const char* transient : {"orig_nbformat", "orig_nbformat_minor", "signature"}) meta.erase(transient);
  for (auto& cell : out["cells"]) {
    if (cell.contains("metadata")) cell["metadata"].erase("trusted");
    if (cell["source"].is_string()) cell["source"] = split_lines(cell["source"].get<std::string>());
    if (cell.contains("attachments") && cell["attachments"].is_object())
      for (auto& [name, bundle] : cell["attachments"].items()) split_bundle(bundle);
    if (cell.value("cell_type", std::string()) != "code") continue;
    for (auto& o : cell["outputs"]) {
      const auto type = o.value("output_type", std::string());
      if (type == "stream" && o["text"].is_string()) o["text"] = split_lines(o["text"].get<std::string>());
      else if (type == "display_data" || type == "execute_result") split_bundle(o["data"]);
    }
  }
  return out.dump(1, ' ', false, json::error_handler_t::replace) + "\n";
}

void notebook::write(const std::filesystem::path& path) const { detail::write_file_atomically(path, dump()); }

std::string notebook::kernel_name() const {
  const auto& meta = nb_.at("metadata");
  if (meta.contains("kernelspec") && meta["kernelspec"].is_object()) return meta["kernelspec"].value("name", "");
  return {};
}

std::string notebook::language() const {
  const auto& meta = nb_.at("metadata");
  if (meta.contains("kernelspec") && meta["kernelspec"].is_object()) {
    auto lang = meta["kernelspec"].value("language", std::string());
    if (!lang.empty()) return lang;
  }
  if (meta.contains("language_info") && meta["language_info"].is_object()) {
    auto lang = meta["language_info"].value("name", std::string());
    if (!lang.empty()) return lang;
  }
  return "python";
}

json notebook::make_code_cell(std::string source, std::vector<std::string> tags) const {
  json cell = {{"cell_type", "code"},
               {"execution_count", nullptr},
               {"metadata", json::object()},
               {"outputs", json::array()},
               {"source", std::move(source)}};
  if (!tags.empty()) cell["metadata"]["tags"] = std::move(tags);
  if (minor_version() >= 5) cell["id"] = new_cell_id();
  return cell;
}

std::vector<std::string> cell_tags(const json& cell) {
  std::vector<std::string> tags;
  if (!cell.is_object() || !cell.contains("metadata")) return tags;
  const auto& meta = cell["metadata"];
  if (!meta.is_object() || !meta.contains("tags") || !meta["tags"].is_array()) return tags;
  for (const auto& t : meta["tags"])
    if (t.is_string()) tags.push_back(t.get<std::string>());
  return tags;
}

bool cell_has_tag(const json& cell, std::string_view tag) {
  const auto tags = cell_tags(cell);
  return std::find(tags.begin(), tags.end(), tag) != tags.end();
}

}  // namespace kernelgate
