#include "control/protocol/event_sink.hpp"

namespace handoff::control {

OperationResult operation_error(ErrorKind kind, std::string_view code, std::string_view message) {
  return OperationResult{
      kind, boost::json::object{{"result", "error"}, {"error", code}, {"message", message}}};
}

}  // namespace handoff::control
