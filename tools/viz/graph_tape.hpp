// Reading the tape for graph dumps and the gradient-flow report (internal to tools/).
//
// collect() gathers the records reachable from a root, oldest first, with ids from their
// order (the dumps' node ids). layer_calls() groups them by the recurrent layer call and
// time step every record carries as fields (TimeStepScope): nothing is parsed from scope
// strings.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <tapegrad/autograd/record.hpp>
#include <tapegrad/core/tensor.hpp>

namespace tapegrad::tools {

struct Graph {
  std::vector<std::shared_ptr<Record>> records;  // reachable from the root, oldest first
  std::unordered_map<const Record*, int> record_id;
  std::vector<const Edge*> leaves;  // first edge seen for each leaf, in id order
  std::unordered_map<const AutogradMeta*, int> leaf_id;
};

// The records reachable from root through their edges, oldest first. `what` names the caller
// in errors.
Graph collect(const Tensor& root, const char* what);

// One step of a layer call and its records, oldest first.
struct StepRecords {
  int64_t index = 0;
  std::vector<int> records = {};
};

// One call of a recurrent layer (a TimeStepScope), read from the records' fields.
struct LayerCall {
  const std::string* layer = nullptr;
  std::vector<int> outside_steps = {};  // records of the call before and after its loop
  std::vector<StepRecords> steps = {};  // in processing order (go_backwards: T-1 first)
};

// The layer calls among the records, in tape order; call_of[i] is record i's call or -1.
struct LayerCalls {
  std::vector<LayerCall> calls;
  std::vector<int> call_of;
};

LayerCalls layer_calls(const Graph& g);

// The record of the step marked as holding the state it hands on (h_t: mark_step_state), or
// null when the step marks none.
const Record* step_state(const Graph& g, const StepRecords& step);

}  // namespace tapegrad::tools
