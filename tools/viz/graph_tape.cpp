#include <tapegrad/tools/viz/graph_tape.hpp>

#include <algorithm>
#include <unordered_set>

#include <tapegrad/autograd/tape.hpp>

namespace tapegrad::tools {

Graph collect(const Tensor& root, const char* what) {
  Graph g;
  const auto& meta = root.impl().autograd;
  if (!meta || !meta->producer) {
    throw_error<ValueError>("{}: the tensor of shape {} was not produced by a recorded op", what,
                            root.shape());
  }
  Tape::owning(*meta->producer, what);
  // Every record reachable through the edges, then in creation order (by sequence number).
  std::unordered_set<const Record*> seen{meta->producer.get()};
  std::vector<std::shared_ptr<Record>> to_visit{meta->producer};
  while (!to_visit.empty()) {
    std::shared_ptr<Record> rec = std::move(to_visit.back());
    to_visit.pop_back();
    for (const Edge& e : rec->inputs()) {
      if (e.producer && seen.insert(e.producer.get()).second) to_visit.push_back(e.producer);
    }
    g.records.push_back(std::move(rec));
  }
  std::sort(g.records.begin(), g.records.end(),
            [](const auto& a, const auto& b) { return a->seq() < b->seq(); });
  for (std::size_t i = 0; i < g.records.size(); ++i) {
    g.record_id[g.records[i].get()] = static_cast<int>(i);
    for (const Edge& e : g.records[i]->inputs()) {
      if (e.leaf && !g.leaf_id.contains(e.leaf.get())) {
        g.leaf_id[e.leaf.get()] = static_cast<int>(g.leaves.size());
        g.leaves.push_back(&e);
      }
    }
  }
  return g;
}

LayerCalls layer_calls(const Graph& g) {
  LayerCalls out;
  std::unordered_map<std::uint64_t, int> call_index;
  std::vector<std::unordered_map<int64_t, std::size_t>> step_index;
  for (std::size_t i = 0; i < g.records.size(); ++i) {
    const TimeStep& ts = g.records[i]->time_step();
    out.call_of.push_back(-1);
    if (!ts.in_layer()) continue;
    const auto [it, is_new] = call_index.try_emplace(ts.call, static_cast<int>(out.calls.size()));
    if (is_new) {
      out.calls.push_back({.layer = ts.layer});
      step_index.emplace_back();
    }
    LayerCall& call = out.calls[it->second];
    out.call_of.back() = it->second;
    if (!ts.in_step()) {
      call.outside_steps.push_back(static_cast<int>(i));
      continue;
    }
    auto& steps = step_index[it->second];
    const auto [s, new_step] = steps.try_emplace(ts.index, call.steps.size());
    if (new_step) call.steps.push_back({.index = ts.index});
    call.steps[s->second].records.push_back(static_cast<int>(i));
  }
  return out;
}

const Record* step_state(const Graph& g, const StepRecords& step) {
  for (auto it = step.records.rbegin(); it != step.records.rend(); ++it) {
    if (g.records[*it]->step_state()) return g.records[*it].get();
  }
  return nullptr;
}

}  // namespace tapegrad::tools
