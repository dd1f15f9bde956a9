#include "kernelgate/kernel/kernelspec.hpp"

#include "kernel/json_file.hpp"
#include "kernelgate/error.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

namespace kernelgate {

const char* to_string(interrupt_mode m) noexcept {
  return m == interrupt_mode::message ? "message" : "signal";
}

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// jupyter_client's rule: ASCII letters, digits, '-', '.', '_'.
bool valid_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '.' || c == '_';
  });
}

std::string env_or(const char* var, const std::string& fallback = {}) {
  const char* v = std::getenv(var);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (std::size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
    s.replace(pos, from.size(), to);
  return s;
}

std::string join_dirs(const std::vector<std::filesystem::path>& dirs) {
  std::string s;
  for (const auto& d : dirs) s += (s.empty() ? "" : ", ") + d.string();
  return s;
}

}  // namespace

std::vector<std::filesystem::path> kernelspec_dirs() {
  std::vector<std::filesystem::path> data_dirs;
  std::stringstream jp(env_or("JUPYTER_PATH"));
  for (std::string entry; std::getline(jp, entry, ':');)
    if (!entry.empty()) data_dirs.emplace_back(entry);
  std::string user = env_or("JUPYTER_DATA_DIR");
  if (user.empty()) {
    const std::string xdg = env_or("XDG_DATA_HOME");
    if (!xdg.empty())
      user = xdg + "/jupyter";
    else if (const std::string home = env_or("HOME"); !home.empty())
      user = home + "/.local/share/jupyter";
  }
  if (!user.empty()) data_dirs.emplace_back(user);
  data_dirs.emplace_back("/usr/local/share/jupyter");
  data_dirs.emplace_back("/usr/share/jupyter");

  std::vector<std::filesystem::path> out;
  std::set<std::string> seen;
  for (const auto& d : data_dirs) {
    auto k = (d / "kernels").lexically_normal();
    if (seen.insert(k.string()).second) out.push_back(std::move(k));
  }
  return out;
}

kernelspec load_kernelspec(const std::filesystem::path& dir, std::string name) {
  const auto file = dir / "kernel.json";
  const auto bad = [&](const std::string& what) {
    return error(errc::bad_kernelspec, "kernelspec '" + name + "' (" + file.string() + ") " + what);
  };
  const nlohmann::json j = detail::read_json_object(file, bad, " (is the kernelspec installed completely?)");
  kernelspec spec;
  spec.name = lower(name);
  spec.resource_dir = dir;
  const auto argv = j.find("argv");
  if (argv == j.end() || !argv->is_array() || argv->empty())
    throw bad("has no \"argv\" (a non-empty list of strings giving the kernel's command line)");
  for (const auto& a : *argv) {
    if (!a.is_string()) throw bad("has an \"argv\" entry that is not a string: " + a.dump());
    spec.argv.push_back(a.get<std::string>());
  }
  try {
    spec.display_name = j.value("display_name", spec.name);
    spec.language = j.value("language", "");
    const std::string mode = j.value("interrupt_mode", "signal");
    if (mode == "message")
      spec.interrupt = interrupt_mode::message;
    else if (mode != "signal")
      throw bad("has interrupt_mode \"" + mode + "\"; expected \"signal\" or \"message\"");
    if (const auto env = j.find("env"); env != j.end() && !env->is_null()) {
      if (!env->is_object()) throw bad("has an \"env\" that is not an object of strings");
      for (const auto& [k, v] : env->items()) {
        if (!v.is_string()) throw bad("has env." + k + " that is not a string");
        spec.env[k] = v.get<std::string>();
      }
    }
    if (const auto md = j.find("metadata"); md != j.end() && md->is_object()) spec.metadata = *md;
  } catch (const nlohmann::json::exception& e) {
    throw bad(std::string("has a field of the wrong type: ") + e.what());
  }
  return spec;
}

std::vector<kernelspec> find_kernelspecs() {
  std::vector<kernelspec> out;
  std::set<std::string> seen;
  for (const auto& dir : kernelspec_dirs()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) continue;
    std::vector<std::filesystem::path> entries;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) entries.push_back(e.path());
    std::sort(entries.begin(), entries.end());
    for (const auto& p : entries) {
      const std::string name = lower(p.filename().string());
      if (!valid_name(name) || seen.count(name) != 0 || !std::filesystem::is_regular_file(p / "kernel.json", ec)) continue;
      try {
        out.push_back(load_kernelspec(p, name));
        seen.insert(name);
      } catch (const error&) {
        // A broken spec shadows nothing and is reported when asked for by name.
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const kernelspec& a, const kernelspec& b) { return a.name < b.name; });
  return out;
}

kernelspec find_kernelspec(std::string_view requested) {
  const std::string name = lower(requested);
  const auto dirs = kernelspec_dirs();
  if (!valid_name(name))
    throw error(errc::no_such_kernel, "'" + std::string(requested) +
                                          "' is not a kernelspec name (use letters, digits, '-', '.', '_')");
  for (const auto& dir : dirs) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) continue;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      if (lower(e.path().filename().string()) != name) continue;
      if (!std::filesystem::is_regular_file(e.path() / "kernel.json", ec)) continue;
      return load_kernelspec(e.path(), name);  // the first (highest-precedence) one, broken or not
    }
  }
  std::string available;
  for (const auto& s : find_kernelspecs()) available += (available.empty() ? "" : ", ") + s.name;
  throw error(errc::no_such_kernel, "no kernelspec named '" + std::string(requested) + "' in " + join_dirs(dirs) +
                                        (available.empty() ? "; no kernelspecs are installed (e.g. apt install python3-ipykernel)"
                                                           : "; available: " + available));
}

bool kernelspec::runs_ipykernel() const {
  for (std::size_t i = 0; i + 1 < argv.size(); ++i)
    if (argv[i] == "-m" && (argv[i + 1] == "ipykernel_launcher" || argv[i + 1] == "ipykernel")) return true;
  return false;
}

std::vector<std::string> kernelspec::expand_argv(const std::filesystem::path& connection_file) const {
  std::vector<std::string> out;
  out.reserve(argv.size());
  for (const auto& a : argv)
    out.push_back(replace_all(replace_all(a, "{connection_file}", connection_file.string()), "{resource_dir}",
                              resource_dir.string()));
  return out;
}

std::map<std::string, std::string> kernelspec::expand_env(const std::map<std::string, std::string>& parent) const {
  auto substitute = [&](const std::string& v) {
    std::string out;
    for (std::size_t i = 0; i < v.size();) {
      if (v[i] != '$' || i + 1 >= v.size()) {
        out += v[i++];
        continue;
      }
      if (v[i + 1] == '$') {  // "$$" is a literal dollar, as in string.Template
        out += '$';
        i += 2;
        continue;
      }
      const bool braced = v[i + 1] == '{';
      std::size_t j = i + (braced ? 2 : 1);
      const std::size_t start = j;
      while (j < v.size() && (std::isalnum(static_cast<unsigned char>(v[j])) || v[j] == '_')) ++j;
      const std::string var = v.substr(start, j - start);
      const bool closed = !braced || (j < v.size() && v[j] == '}');
      const auto it = parent.find(var);
      if (var.empty() || !closed || it == parent.end()) {  // safe_substitute: leave it as written
        out += v[i++];
        continue;
      }
      out += it->second;
      i = braced ? j + 1 : j;
    }
    return out;
  };
  auto out = parent;
  for (const auto& [k, v] : env) out[k] = substitute(v);
  return out;
}

}  // namespace kernelgate
