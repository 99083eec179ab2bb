#include <tapegrad/autograd/grad_mode.hpp>

#include <memory>
#include <unordered_set>

namespace tapegrad {
namespace {

thread_local bool grad_enabled = true;
thread_local bool anomaly_enabled = false;

const std::string kRootScope;
thread_local const std::string* current_scope = &kRootScope;

thread_local TimeStep current_step;
thread_local std::uint64_t layer_calls = 0;

// Interned scope strings: a module opens its scope on every call, so each distinct scope is
// stored once and records point at it. Node-based set: pointers stay valid.
const std::string* intern(std::string scope) {
  thread_local std::unordered_set<std::string> scopes;
  return &*scopes.insert(std::move(scope)).first;
}

}  // namespace

bool GradMode::enabled() {
  return grad_enabled;
}
void GradMode::set_enabled(bool on) {
  grad_enabled = on;
}

AnomalyGuard::AnomalyGuard() : previous_(anomaly_enabled) {
  anomaly_enabled = true;
}
AnomalyGuard::~AnomalyGuard() {
  anomaly_enabled = previous_;
}
bool AnomalyGuard::enabled() {
  return anomaly_enabled;
}

NameScope::NameScope(std::string_view name) : previous_(current_scope) {
  current_scope =
      intern(previous_->empty() ? std::string(name) : *previous_ + "/" + std::string(name));
}
NameScope::~NameScope() {
  current_scope = previous_;
}
const std::string* NameScope::current() {
  return current_scope;
}

TimeStepScope::TimeStepScope() : previous_(current_step) {
  current_step = TimeStep{.layer = current_scope, .call = ++layer_calls};
}
TimeStepScope::TimeStepScope(const TimeStep& resumed)
    : previous_(current_step), previous_scope_(current_scope) {
  current_step = resumed;
  if (resumed.layer != nullptr) current_scope = resumed.layer;
}
TimeStepScope::~TimeStepScope() {
  current_step = previous_;
  if (previous_scope_ != nullptr) current_scope = previous_scope_;
}
void TimeStepScope::set_step(int64_t index) {
  current_step.index = index;
}
const TimeStep& TimeStepScope::current() {
  return current_step;
}

}  // namespace tapegrad
