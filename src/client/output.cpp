#include "kernelgate/client/output.hpp"

namespace kernelgate {

const char* to_string(output_kind k) noexcept {
  switch (k) {
    case output_kind::stream: return "stream";
    case output_kind::display_data: return "display_data";
    case output_kind::execute_result: return "execute_result";
    case output_kind::error: return "error";
    case output_kind::update_display_data: return "update_display_data";
    case output_kind::clear_output: return "clear_output";
  }
  return "unknown";
}

}  // namespace kernelgate
