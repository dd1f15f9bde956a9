#include "kernelgate/error.hpp"
#include "kernelgate/kernel/kernelspec.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

namespace kg = kernelgate;

namespace {

// Points JUPYTER_PATH and the user data dir at temporary directories for one test.
struct env_guard {
  std::string name;
  std::optional<std::string> old;
  env_guard(std::string n, const std::string& value) : name(std::move(n)) {
    if (const char* v = std::getenv(name.c_str())) old = v;
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  ~env_guard() {
    if (old)
      ::setenv(name.c_str(), old->c_str(), 1);
    else
      ::unsetenv(name.c_str());
  }
};

void make_spec(const std::filesystem::path& data_dir, const std::string& name, const std::string& json) {
  std::filesystem::create_directories(data_dir / "kernels" / name);
  kgtest::write_file(data_dir / "kernels" / name / "kernel.json", json);
}

std::string what(const std::function<void()>& f) {
  try {
    f();
  } catch (const kg::error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("search path: JUPYTER_PATH first, then the user data dir, then system dirs") {
  kgtest::temp_dir a, b, user;
  env_guard jp("JUPYTER_PATH", a.path().string() + ":" + b.path().string());
  env_guard dd("JUPYTER_DATA_DIR", user.path().string());
  const auto dirs = kg::kernelspec_dirs();
  REQUIRE(dirs.size() >= 5);
  CHECK(dirs[0] == a.path() / "kernels");
  CHECK(dirs[1] == b.path() / "kernels");
  CHECK(dirs[2] == user.path() / "kernels");
  CHECK(dirs[3] == "/usr/local/share/jupyter/kernels");
  CHECK(dirs[4] == "/usr/share/jupyter/kernels");
}

TEST_CASE("earlier directories win, names are case-insensitive, fields are parsed") {
  kgtest::temp_dir a, user;
  env_guard jp("JUPYTER_PATH", a.path().string());
  env_guard dd("JUPYTER_DATA_DIR", user.path().string());
  make_spec(a.path(), "MyKernel",
            R"({"argv": ["/bin/k", "-f", "{connection_file}", "{resource_dir}"], "display_name": "Mine",
                "language": "python", "interrupt_mode": "message", "env": {"A": "${HOME}/x", "B": "$$lit"},
                "metadata": {"debugger": true}})");
  make_spec(user.path(), "mykernel", R"({"argv": ["/bin/other"], "language": "r"})");
  const auto spec = kg::find_kernelspec("MYKERNEL");
  CHECK(spec.name == "mykernel");
  CHECK(spec.language == "python");
  CHECK(spec.display_name == "Mine");
  CHECK(spec.interrupt == kg::interrupt_mode::message);
  CHECK(spec.metadata.at("debugger") == true);
  const auto argv = spec.expand_argv("/run/k.json");
  CHECK(argv == std::vector<std::string>{"/bin/k", "-f", "/run/k.json", spec.resource_dir.string()});
  const auto env = spec.expand_env({{"HOME", "/home/u"}, {"KEEP", "1"}});
  CHECK(env.at("A") == "/home/u/x");
  CHECK(env.at("B") == "$lit");
  CHECK(env.at("KEEP") == "1");
  // The listing shows the name once, from the winning directory.
  int count = 0;
  for (const auto& s : kg::find_kernelspecs())
    if (s.name == "mykernel") {
      ++count;
      CHECK(s.language == "python");
    }
  CHECK(count == 1);
}

TEST_CASE("runs_ipykernel: a kernelspec that runs ipykernel as a module") {
  kg::kernelspec spec;
  spec.argv = {"/usr/bin/python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"};
  CHECK(spec.runs_ipykernel());
  spec.argv = {"python", "-m", "ipykernel", "-f", "{connection_file}"};
  CHECK(spec.runs_ipykernel());
  spec.argv = {"R", "--slave", "-e", "IRkernel::main()", "--args", "{connection_file}"};
  CHECK_FALSE(spec.runs_ipykernel());
  spec.argv = {"python", "-m", "xpython_launcher", "ipykernel_launcher"};
  CHECK_FALSE(spec.runs_ipykernel());
  spec.argv = {"-m"};
  CHECK_FALSE(spec.runs_ipykernel());
}

TEST_CASE("${VAR} of an unknown variable stays as written") {
  kg::kernelspec s;
  s.env = {{"X", "${NOPE_NOT_SET}/a:$ALSO_NOT"}, {"Y", "${PATH}"}};
  const auto env = s.expand_env({{"PATH", "/bin"}});
  CHECK(env.at("X") == "${NOPE_NOT_SET}/a:$ALSO_NOT");
  CHECK(env.at("Y") == "/bin");
}

TEST_CASE("a missing kernelspec names the directories searched and what is available") {
  kgtest::temp_dir a;
  env_guard jp("JUPYTER_PATH", a.path().string());
  make_spec(a.path(), "present", R"({"argv": ["/bin/true"]})");
  const auto msg = what([] { (void)kg::find_kernelspec("absent"); });
  CHECK(msg.find("no kernelspec named 'absent'") != std::string::npos);
  CHECK(msg.find(a.path().string()) != std::string::npos);
  CHECK(msg.find("present") != std::string::npos);
  CHECK(what([] { (void)kg::find_kernelspec("../etc"); }).find("not a kernelspec name") != std::string::npos);
}

TEST_CASE("broken kernelspecs give bad_kernelspec naming the file and the problem") {
  kgtest::temp_dir a;
  env_guard jp("JUPYTER_PATH", a.path().string());
  make_spec(a.path(), "notjson", "{ argv: ");
  make_spec(a.path(), "noargv", R"({"display_name": "x"})");
  make_spec(a.path(), "badmode", R"({"argv": ["x"], "interrupt_mode": "telepathy"})");
  make_spec(a.path(), "badenv", R"({"argv": ["x"], "env": {"A": 1}})");
  const auto code = [](const char* name) {
    try {
      (void)kg::find_kernelspec(name);
    } catch (const kg::error& e) {
      return e.condition();
    }
    return kg::errc::timeout;
  };
  CHECK(code("notjson") == kg::errc::bad_kernelspec);
  CHECK(code("noargv") == kg::errc::bad_kernelspec);
  CHECK(code("badmode") == kg::errc::bad_kernelspec);
  CHECK(code("badenv") == kg::errc::bad_kernelspec);
  const auto msg = what([] { (void)kg::find_kernelspec("noargv"); });
  CHECK(msg.find((a.path() / "kernels/noargv/kernel.json").string()) != std::string::npos);
  CHECK(msg.find("argv") != std::string::npos);
  // Broken specs are left out of the listing instead of breaking it.
  for (const auto& s : kg::find_kernelspecs()) CHECK(s.name != "noargv");
}

TEST_CASE("the system python3 kernelspec is found when ipykernel is installed") {
  kgtest::require_service(std::filesystem::exists("/usr/share/jupyter/kernels/python3/kernel.json"),
                          "the python3 kernelspec (python3-ipykernel)");
  const auto spec = kg::find_kernelspec("python3");
  CHECK(spec.language == "python");
  CHECK(spec.interrupt == kg::interrupt_mode::signal);
  CHECK(std::find(spec.argv.begin(), spec.argv.end(), "{connection_file}") != spec.argv.end());
}
