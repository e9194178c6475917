#include "transport/native.h"

#include "lib/error.h"

namespace rdzv::transport {

std::size_t elementSize(DataType type) {
  switch (type) {
    case DataType::Float32:
    case DataType::Int32:
      return 4;
    case DataType::Float64:
    case DataType::Int64:
      return 8;
  }
  return 1;
}

std::string toString(DataType type) {
  switch (type) {
    case DataType::Float32:
      return "float32";
    case DataType::Float64:
      return "float64";
    case DataType::Int32:
      return "int32";
    case DataType::Int64:
      return "int64";
  }
  return "?";
}

std::string toString(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum:
      return "sum";
    case ReduceOp::Min:
      return "min";
    case ReduceOp::Max:
      return "max";
  }
  return "?";
}

DataType parseDataType(const std::string& text) {
  for (auto t : {DataType::Float32, DataType::Float64, DataType::Int32, DataType::Int64})
    if (toString(t) == text) return t;
  throwUsage("invalid --dtype \"" + text + "\"", "use float32, float64, int32 or int64");
}

ReduceOp parseReduceOp(const std::string& text) {
  for (auto op : {ReduceOp::Sum, ReduceOp::Min, ReduceOp::Max})
    if (toString(op) == text) return op;
  throwUsage("invalid --op \"" + text + "\"", "use sum, min or max");
}

}  // namespace rdzv::transport
