#include "control/event_sink.hpp"

namespace handoff::control {

OperationResult operation_error(int status, std::string_view code, std::string_view message) {
  return OperationResult{
      status, boost::json::object{
                  {"result", "error"}, {"error", code}, {"message", message}, {"status", status}}};
}

}  // namespace handoff::control
