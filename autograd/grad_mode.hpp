// Thread-local switches of the autograd engine, each set by an RAII guard.
//
//   NoGradGuard   ops record nothing (evaluation, optimizer updates)
//   AnomalyGuard  every forward op and every gradient rule checks its result for NaN/Inf
//                 and throws AutogradError naming the op that produced it
//   NameScope     records made inside are tagged with the scope ("rnn1/t3"), which graph
//                 dumps, tape prints and error messages show
#pragma once

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
  // Nested scopes join with '/': NameScope a("rnn1"); NameScope b("t3"); -> "rnn1/t3".
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

}  // namespace tapegrad
