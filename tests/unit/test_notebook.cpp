#include <doctest/doctest.h>

#include "kernelgate/error.hpp"
#include "kernelgate/notebook/notebook.hpp"
#include "notebook/cell_outputs.hpp"
#include "support.hpp"

namespace kg = kernelgate;
using json = nlohmann::json;

namespace {

const char* const sample = R"({
 "cells": [
  {"cell_type": "markdown", "id": "intro", "metadata": {}, "source": ["# Title\n", "text"]},
  {"cell_type": "code", "execution_count": null, "id": "params", "metadata": {"tags": ["parameters"]},
   "outputs": [], "source": "alpha = 1\nbeta = 'x'"},
  {"cell_type": "code", "execution_count": 3, "id": "work", "metadata": {},
   "outputs": [{"output_type": "stream", "name": "stdout", "text": ["a\n", "b\n"]},
               {"output_type": "execute_result", "execution_count": 3, "metadata": {},
                "data": {"text/plain": ["1\n", "2"], "application/json": {"k": [1, 2]}}}],
   "source": ["print(alpha)\n", "alpha"]}
 ],
 "metadata": {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}},
 "nbformat": 4, "nbformat_minor": 5
})";

kg::errc parse_error(const std::string& text) {
  try {
    (void)kg::notebook::parse(text, "bad.ipynb");
  } catch (const kg::error& e) {
    CHECK(std::string(e.what()).find("bad.ipynb") != std::string::npos);
    return e.condition();
  }
  FAIL("parse should have failed for: " << text);
  return kg::errc::invalid_argument;
}

kg::message iopub(const std::string& type, json content) {
  kg::message m;
  m.header = {{"msg_type", type}, {"date", "2026-11-28T10:00:00.000001Z"}, {"msg_id", "m"}};
  m.content = std::move(content);
  m.chan = kg::channel::iopub;
  return m;
}

}  // namespace

TEST_CASE("a notebook is read with its lines joined and written back as nbformat writes it") {
  const auto nb = kg::notebook::parse(sample, "sample.ipynb");
  CHECK(nb.cells().size() == 3);
  CHECK(nb.cells()[0]["source"] == "# Title\ntext");
  CHECK(nb.cells()[2]["outputs"][0]["text"] == "a\nb\n");
  CHECK(nb.cells()[2]["outputs"][1]["data"]["text/plain"] == "1\n2");
  CHECK(nb.cells()[2]["outputs"][1]["data"]["application/json"] == json{{"k", {1, 2}}});
  CHECK(nb.kernel_name() == "python3");
  CHECK(nb.language() == "python");

  const std::string text = nb.dump();
  CHECK(text.back() == '\n');
  CHECK(text.find("\"source\": [\n    \"# Title\\n\",\n    \"text\"\n   ]") != std::string::npos);
  // Keys are sorted and the indent is one space per level, as nbformat writes.
  CHECK(text.rfind("{\n \"cells\": [", 0) == 0);
  CHECK(text.find("\"nbformat\": 4,\n \"nbformat_minor\": 5\n}") != std::string::npos);
  // A round trip is stable.
  CHECK(kg::notebook::parse(text).dump() == text);
}

TEST_CASE("lines are split where Python's splitlines splits them") {
  auto nb = kg::notebook::parse(sample);
  nb.cells()[0]["source"] = "a\r\nb\rc\nd";
  const auto again = json::parse(nb.dump());
  CHECK(again["cells"][0]["source"] == json{"a\r\n", "b\r", "c\n", "d"});
}

TEST_CASE("cells of a 4.5 notebook without ids get ids; duplicate ids are repaired") {
  auto nb = kg::notebook::parse(R"({"cells": [{"cell_type": "code", "metadata": {}, "source": "1",
      "outputs": [], "execution_count": null}, {"cell_type": "raw", "id": "x", "metadata": {}, "source": ""},
      {"cell_type": "raw", "id": "x", "metadata": {}, "source": ""}], "metadata": {}, "nbformat": 4,
      "nbformat_minor": 5})");
  CHECK(nb.cells()[0]["id"].get<std::string>().size() == 8);
  CHECK(nb.cells()[1]["id"] == "x");
  CHECK(nb.cells()[2]["id"] != "x");
  // Older minor versions do not get ids.
  auto old = kg::notebook::parse(R"({"cells": [{"cell_type": "raw", "metadata": {}, "source": ""}],
      "metadata": {}, "nbformat": 4, "nbformat_minor": 4})");
  CHECK(!old.cells()[0].contains("id"));
}

TEST_CASE("malformed notebooks give clear errors naming the file") {
  CHECK(parse_error("{not json") == kg::errc::malformed_notebook);
  CHECK(parse_error("[]") == kg::errc::malformed_notebook);
  CHECK(parse_error(R"({"cells": [], "metadata": {}, "nbformat": 3, "nbformat_minor": 0})") ==
        kg::errc::malformed_notebook);
  CHECK(parse_error(R"({"metadata": {}, "nbformat": 4, "nbformat_minor": 4})") == kg::errc::malformed_notebook);
  CHECK(parse_error(R"({"cells": [{"cell_type": "code", "metadata": {}, "source": 5}], "metadata": {},
      "nbformat": 4, "nbformat_minor": 4})") == kg::errc::malformed_notebook);
  CHECK(parse_error(R"({"cells": [{"cell_type": "weird", "metadata": {}, "source": ""}], "metadata": {},
      "nbformat": 4, "nbformat_minor": 4})") == kg::errc::malformed_notebook);
  CHECK(parse_error(R"({"cells": [{"cell_type": "code", "metadata": {}, "source": "", "execution_count": null,
      "outputs": [{"output_type": "nope"}]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 4})") ==
        kg::errc::malformed_notebook);
  CHECK(parse_error(R"({"cells": [{"cell_type": "raw", "id": "bad id!", "metadata": {}, "source": ""}],
      "metadata": {}, "nbformat": 4, "nbformat_minor": 5})") == kg::errc::malformed_notebook);
}

TEST_CASE("writing is atomic and a missing file is an io_error") {
  kgtest::temp_dir dir;
  const auto nb = kg::notebook::parse(sample);
  const auto path = dir.path() / "out.ipynb";
  nb.write(path);
  CHECK(kgtest::read_file(path) == nb.dump());
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), std::filesystem::directory_iterator()) == 1);
  try {
    nb.write(dir.path() / "missing-dir" / "out.ipynb");
    FAIL("write should fail");
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::io_error);
    CHECK(std::string(e.what()).find("missing-dir") != std::string::npos);
  }
  CHECK(kgtest::read_file(path) == nb.dump());
  try {
    (void)kg::notebook::read(dir.path() / "nope.ipynb");
    FAIL("read should fail");
  } catch (const kg::error& e) {
    CHECK(e.condition() == kg::errc::io_error);
  }
}

TEST_CASE("parameters are typed like papermill's -p and translated per language") {
  CHECK(kg::parse_parameter_value("12") == 12);
  CHECK(kg::parse_parameter_value("-1.5") == -1.5);
  CHECK(kg::parse_parameter_value("True") == true);
  CHECK(kg::parse_parameter_value("None").is_null());
  CHECK(kg::parse_parameter_value("12abc") == "12abc");
  CHECK(kg::parse_parameter_value("") == "");

  const kg::parameter_list params{{"n", 3}, {"name", "a \"quoted\"\nline"}, {"flag", false},
                                  {"xs", json{1, "b"}}, {"none", nullptr}};
  CHECK(kg::parameters_source(params, "python") ==
        "# Parameters\nn = 3\nname = \"a \\\"quoted\\\"\\nline\"\nflag = False\nxs = [1, \"b\"]\nnone = None\n");
  CHECK(kg::parameters_source({{"flag", true}, {"xs", json{1, 2}}}, "R") == "# Parameters\nflag = TRUE\nxs = list(1, 2)\n");
  CHECK(kg::parameters_source({{"s", "it's"}}, "bash") == "# Parameters\ns='it'\\''s'\n");
  CHECK_THROWS_AS((void)kg::parameters_source({{"x", 1}}, "cobol"), kg::error);
  CHECK_THROWS_AS((void)kg::parameters_source({{"not valid", 1}}, "python"), kg::error);
}

TEST_CASE("injected parameters go after the parameters cell and replace an earlier injection") {
  auto nb = kg::notebook::parse(sample);
  kg::inject_parameters(nb, {{"alpha", 5}});
  REQUIRE(nb.cells().size() == 4);
  CHECK(kg::cell_has_tag(nb.cells()[2], "injected-parameters"));
  CHECK(nb.cells()[2]["source"] == "# Parameters\nalpha = 5\n");
  CHECK(nb.cells()[2]["id"].is_string());
  kg::inject_parameters(nb, {{"alpha", 6}});
  REQUIRE(nb.cells().size() == 4);
  CHECK(nb.cells()[2]["source"] == "# Parameters\nalpha = 6\n");
  CHECK(nb.metadata()["papermill"]["parameters"]["alpha"] == 6);

  auto plain = kg::notebook::parse(R"({"cells": [{"cell_type": "markdown", "metadata": {}, "source": "x"}],
      "metadata": {}, "nbformat": 4, "nbformat_minor": 4})");
  kg::inject_parameters(plain, {{"k", "v"}});
  CHECK(kg::cell_has_tag(plain.cells()[0], "injected-parameters"));
}

TEST_CASE("IOPub messages become nbformat outputs as nbclient makes them") {
  json cells = json::array({json{{"cell_type", "code"}, {"metadata", json::object()}, {"outputs", json::array()},
                                 {"source", "x"}, {"execution_count", nullptr}},
                            json{{"cell_type", "code"}, {"metadata", json::object()}, {"outputs", json::array()},
                                 {"source", "y"}, {"execution_count", nullptr}}});
  kg::detail::notebook_outputs outs(true, true);
  outs.begin_cell(cells, 0);
  outs.on_iopub(iopub("status", {{"execution_state", "busy"}}));
  outs.on_iopub(iopub("execute_input", {{"code", "x"}, {"execution_count", 1}}));
  outs.on_iopub(iopub("stream", {{"name", "stdout"}, {"text", "10%\r"}}));
  outs.on_iopub(iopub("stream", {{"name", "stdout"}, {"text", "100%\nab\bc\n"}}));
  outs.on_iopub(iopub("display_data", {{"data", {{"text/plain", "v1"}}}, {"metadata", json::object()},
                                       {"transient", {{"display_id", "d"}}}}));
  outs.on_iopub(iopub("stream", {{"name", "stderr"}, {"text", "warn\n"}}));
  outs.on_iopub(iopub("execute_result", {{"data", {{"text/plain", "42"}}}, {"metadata", json::object()},
                                         {"execution_count", 1}}));
  outs.on_iopub(iopub("status", {{"execution_state", "idle"}}));
  outs.end_cell();
  const auto& first = cells[0];
  REQUIRE(first["outputs"].size() == 4);
  CHECK(first["outputs"][0]["text"] == "100%\nac\n");
  CHECK(first["outputs"][1]["data"]["text/plain"] == "v1");
  CHECK(first["outputs"][2]["name"] == "stderr");
  CHECK(first["outputs"][3]["execution_count"] == 1);
  CHECK(first["execution_count"] == 1);
  CHECK(first["metadata"]["execution"]["iopub.status.busy"] == "2026-11-28T10:00:00.000001Z");
  CHECK(first["metadata"]["execution"].contains("iopub.execute_input"));
  CHECK(first["metadata"]["execution"].contains("iopub.status.idle"));

  // A later cell updates the earlier display, then clears its own output lazily.
  outs.begin_cell(cells, 1);
  outs.on_iopub(iopub("stream", {{"name", "stdout"}, {"text", "gone"}}));
  outs.on_iopub(iopub("update_display_data", {{"data", {{"text/plain", "v2"}}}, {"metadata", json::object()},
                                              {"transient", {{"display_id", "d"}}}}));
  outs.on_iopub(iopub("clear_output", {{"wait", true}}));
  CHECK(cells[1]["outputs"].size() == 1);  // wait=True defers the clear to the next output
  outs.on_iopub(iopub("stream", {{"name", "stdout"}, {"text", "kept"}}));
  outs.end_cell();
  CHECK(cells[0]["outputs"][1]["data"]["text/plain"] == "v2");
  REQUIRE(cells[1]["outputs"].size() == 1);
  CHECK(cells[1]["outputs"][0]["text"] == "kept");
}
