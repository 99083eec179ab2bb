// Thread-local switches of the autograd engine, each set by an RAII guard.
//
//   NoGradGuard   ops record nothing (evaluation, optimizer updates)
//   AnomalyGuard  every forward op and every gradient rule checks its result for NaN/Inf
//                 and throws AutogradError naming the op that produced it
//   NameScope     records made inside are tagged with the scope ("Sequential/0:Dense"), which
//                 graph dumps, tape prints and error messages show
//   TimeStepScope records made inside carry, as data, the recurrent layer call they belong to
//                 and its time step; graph dumps cluster and fold by these fields and the
//                 gradient-flow report reads them, with the record of each step's h_t
//                 (mark_step_state). Time steps are never encoded in scope strings, so a
//                 user's own NameScope("t2") is just a name.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tapegrad {

class GradMode {
 public:
  static bool enabled();
  static void set_enabled(bool on);
};

class NoGradGuard {
 public:
  NoGradGuard() : previous_(GradMode::enabled()) { GradMode::set_enabled(false); }
  ~NoGradGuard() { GradMode::set_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// Re-enables recording inside a NoGradGuard (the engine uses it for create_graph).
class EnableGradGuard {
 public:
  explicit EnableGradGuard(bool on = true) : previous_(GradMode::enabled()) {
    GradMode::set_enabled(on);
  }
  ~EnableGradGuard() { GradMode::set_enabled(previous_); }
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool previous_;
};

class AnomalyGuard {
 public:
  AnomalyGuard();
  ~AnomalyGuard();
  AnomalyGuard(const AnomalyGuard&) = delete;
  AnomalyGuard& operator=(const AnomalyGuard&) = delete;
  static bool enabled();

 private:
  bool previous_;
};

class NameScope {
 public:
  // Nested scopes join with '/': NameScope a("encoder"); NameScope b("gates"); -> "encoder/gates".
  explicit NameScope(std::string_view name);
  ~NameScope();
  NameScope(const NameScope&) = delete;
  NameScope& operator=(const NameScope&) = delete;

  // The full scope in force on this thread; the pointer stays valid for the whole program
  // (scope strings are interned), so records keep it instead of a copy.
  static const std::string* current();

 private:
  const std::string* previous_;
};

// Where a record stands in an unrolled recurrent layer. Records keep a copy (three words):
// no string is formatted or interned per step or per record.
struct TimeStep {
  static constexpr int64_t kNoStep = -1;
  const std::string* layer = nullptr;  // the layer call's scope ("Sequential/0:SimpleRNN")
  std::uint64_t call = 0;              // which call of a layer on this thread (1, 2, ...)
  int64_t index = kNoStep;             // the step, kNoStep before and after the loop
  bool in_layer() const { return layer != nullptr; }
  bool in_step() const { return layer != nullptr && index != kNoStep; }
};

// One call of a recurrent layer: opened by the layer around its whole computation, with the
// layer's name scope in force; set_step(t) before each step, set_step(kNoStep) after the
// loop. Nested calls (a layer inside a cell) restore the outer one on exit.
class TimeStepScope {
 public:
  TimeStepScope();
  // Re-enters a call opened earlier (a checkpointed layer recomputing a segment during
  // backward): records made inside carry that call and its layer's scope again.
  explicit TimeStepScope(const TimeStep& resumed);
  ~TimeStepScope();
  TimeStepScope(const TimeStepScope&) = delete;
  TimeStepScope& operator=(const TimeStepScope&) = delete;

  void set_step(int64_t index);
  // What records made now on this thread carry; in_layer() is false outside every call.
  static const TimeStep& current();

 private:
  TimeStep previous_;
  const std::string* previous_scope_ = nullptr;  // set by the resuming constructor only
};

class Tensor;

// Marks the record that produced `state` as the one holding the state its time step hands
// on, as the RNN does with h_t when a step returns: the gradient-flow report and graph dumps
// read the mark (Record::step_state), so a cell may make its state tensors in any order.
// Nothing for a tensor no op produced.
void mark_step_state(const Tensor& state);

}  // namespace tapegrad
