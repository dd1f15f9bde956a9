#include "cli/kernel_commands.hpp"

#include "kernelgate/gateway/gateway_client.hpp"
#include "kernelgate/kernel/kernelspec.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <ostream>
#include <string>

namespace kernelgate::cli {

namespace {

// A table cell: `s` and the spaces that bring it to width `w` plus a two-space gap.
std::string pad(const std::string& s, std::size_t w) { return s + std::string(w - s.size() + 2, ' '); }

}  // namespace

int print_kernelspecs(bool json, std::ostream& out) {
  const auto specs = find_kernelspecs();
  if (json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& s : specs)
      list.push_back({{"name", s.name}, {"language", s.language}, {"display_name", s.display_name},
                      {"path", s.resource_dir.string()}});
    out << nlohmann::json{{"kernelspecs", list}}.dump(2) << '\n';
    return 0;
  }
  if (specs.empty()) {
    out << "no kernelspecs found in:";
    for (const auto& d : kernelspec_dirs()) out << ' ' << d.string();
    out << "\n(install one, e.g. apt install python3-ipykernel)\n";
    return 0;
  }
  std::size_t name_w = 4, lang_w = 8;
  for (const auto& s : specs) {
    name_w = std::max(name_w, s.name.size());
    lang_w = std::max(lang_w, s.language.size());
  }
  out << pad("NAME", name_w) << pad("LANGUAGE", lang_w) << "PATH\n";
  for (const auto& s : specs) out << pad(s.name, name_w) << pad(s.language, lang_w) << s.resource_dir.string() << '\n';
  return 0;
}

int print_gateway_kernelspecs(const gateway_options& gateway, bool json, std::ostream& out) {
  const gateway_client rest(gateway);
  const auto specs = rest.kernelspecs();
  if (json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& s : specs.specs)
      list.push_back({{"name", s.name}, {"language", s.language}, {"display_name", s.display_name}});
    out << nlohmann::json{{"default", specs.default_name}, {"kernelspecs", list}}.dump(2) << '\n';
    return 0;
  }
  std::size_t name_w = 4;
  for (const auto& s : specs.specs) name_w = std::max(name_w, s.name.size() + 2);
  out << pad("NAME", name_w) << "LANGUAGE\n";
  for (const auto& s : specs.specs)
    out << pad(s.name + (s.name == specs.default_name ? " *" : ""), name_w) << s.language << '\n';
  return 0;
}

}  // namespace kernelgate::cli
