#include <tapegrad/autograd/record.hpp>

#include <cmath>
#include <mutex>
#include <unordered_set>

#include <tapegrad/autograd/tape.hpp>
#include <tapegrad/core/kernels.hpp>

namespace tapegrad {
namespace {

// Destroying the last handle on a long chain of records would destroy each predecessor
// from inside its successor's destructor: 100,000 nested calls. Instead, a record moves
// what it owns into this thread-local list and the outermost destructor empties it in a
// loop, so destruction depth stays constant.
struct DeferredRelease {
  std::vector<std::shared_ptr<void>> pending;
  bool draining = false;

  void drain() {
    if (draining) return;
    draining = true;
    while (!pending.empty()) {
      std::shared_ptr<void> last = std::move(pending.back());
      pending.pop_back();
      last.reset();  // may push more entries
    }
    draining = false;
  }
};

DeferredRelease& deferred() {
  thread_local DeferredRelease d;
  return d;
}

// A new handle on t's data with no autograd link.
Tensor plain_alias(const Tensor& t) {
  return make_view(t, t.shape(), t.strides(), t.offset());
}

// The record whose gradient rule is running, so an anomaly inside a rule names that rule.
thread_local const Record* rule_in_progress = nullptr;

// The tg::checkpoint whose function is running on this thread, if any (ReadWatch).
thread_local detail::ReadWatch* read_watch = nullptr;

std::string where_of(const std::string& scope, const TimeStep& step) {
  if (!step.in_step()) return scope;
  return fmt::format("{}{}[step {}]", scope, scope.empty() ? "" : " ", step.index);
}

std::string describe_record(const Record& rec) {
  const std::string where = rec.where();
  return fmt::format("{} (#{}{})", rec.op(), rec.seq(), where.empty() ? "" : " in scope " + where);
}

// One pass over a tensor's values: the first non-finite element and the finite range.
struct FiniteScan {
  int64_t first_bad = -1;  // flat index in row-major order, -1 when every value is finite
  double lo = INFINITY;
  double hi = -INFINITY;
};

FiniteScan scan_finite(const Tensor& t) {
  const Tensor dense = t.contiguous();
  FiniteScan scan;
  dispatch(dense.dtype(), [&]<class T>(T) {
    const T* p = dense.data<T>();
    for (int64_t i = 0; i < dense.numel(); ++i) {
      const double v = p[i];
      if (!std::isfinite(v)) {
        if (scan.first_bad < 0) scan.first_bad = i;
      } else {
        scan.lo = std::min(scan.lo, v);
        scan.hi = std::max(scan.hi, v);
      }
    }
  });
  return scan;
}

// "[1,5,0]": the multi-index of a row-major flat index into shape.
std::string index_in(const Shape& shape, int64_t flat) {
  Shape index = Shape::filled(shape.size(), 0);
  for (int64_t d = shape.size() - 1; d >= 0; --d) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return to_string(index);
}

std::string describe_range(const Tensor& t) {
  const FiniteScan scan = scan_finite(t);
  return fmt::format("{} in [{:.4g}, {:.4g}]", t.shape(), scan.lo, scan.hi);
}

// What an op's input is, for an anomaly that was already in it.
std::string origin_of(const Tensor& in) {
  const AutogradMeta* meta = autograd_meta(in);
  if (meta != nullptr && meta->producer) {
    return fmt::format("it is the output of {}, computed before AnomalyGuard was on",
                       describe_record(*meta->producer));
  }
  if (meta != nullptr && meta->requires_grad) {
    return "it is a leaf that requires grad (a parameter or an input), so no op produced it";
  }
  return "it is data given to the graph (a tensor no op produced)";
}

// An op may not extend a graph another thread recorded (tape.hpp says why).
void check_same_thread(const Record& producer, const Tape& tape, const char* op,
                       std::size_t input) {
  if (producer.tape_id() != tape.id()) {
    throw_error<AutogradError>(
        "{}: input {} was computed by {} (#{}) on another thread; a graph belongs to the "
        "thread that records it. detach() the input to use its values on this thread",
        op, input, producer.op(), producer.seq());
  }
}

}  // namespace

Record::~Record() {
  Tape::record_died(tape_id_);
  DeferredRelease& d = deferred();
  for (Edge& e : inputs_) {
    if (e.producer) d.pending.push_back(std::move(e.producer));
  }
  for (SavedTensor& s : saved_) {
    if (s.tensor.defined()) d.pending.push_back(s.tensor.impl_ptr());
  }
  inputs_.clear();
  saved_.clear();
  d.drain();
}

std::string Record::where() const {
  return where_of(*scope_, time_step_);
}

std::size_t Record::saved_bytes() const {
  std::size_t bytes = 0;
  for (const SavedTensor& s : saved_) bytes += s.tensor.numel() * element_size(s.tensor.dtype());
  if (saved_output_) bytes += saved_output_->tensor.numel() * element_size(output_dtype_);
  return bytes;
}

void Record::release() {
  released_ = true;
  saved_.clear();
  saved_output_.reset();
  hooks_.clear();  // a hook that captured the output would otherwise keep this record alive
  drop_rule();
}

Grads Record::apply(const BackwardContext& ctx) {
  if (released_) {
    throw_error<AutogradError>(
        "backward through {} a second time: its saved tensors were freed by the first "
        "backward. Pass retain_graph=true to the first backward, or detach() state carried "
        "across iterations (e.g. an RNN's hidden state)",
        describe_record(*this));
  }
  auto check_version = [this](const SavedTensor& s, const char* what) {
    if (s.tensor.version() != s.version) {
      throw_error<AutogradError>(
          "saved tensor ({}) of {} was modified in place: version {}, expected {}. Clone it "
          "before modifying, or modify it before it is used",
          what, op_, s.tensor.version(), s.version);
    }
  };
  for (const SavedTensor& s : saved_) check_version(s, "input");
  if (saved_output_) check_version(*saved_output_, "output");
  const Record* outer = rule_in_progress;
  rule_in_progress = this;
  struct Restore {
    const Record* outer;
    ~Restore() { rule_in_progress = outer; }
  } restore{outer};
  return run_rule(ctx);
}

Tensor BackwardContext::saved(std::size_t i) const {
  return linked(record_->saved_[i]);
}

Tensor BackwardContext::output() const {
  return linked(*record_->saved_output_);
}

Tensor BackwardContext::linked(const SavedTensor& s) const {
  if (!s.is_output || !GradMode::enabled()) return s.tensor;
  // create_graph: the output must stay connected to this record for higher derivatives.
  Tensor linked = plain_alias(s.tensor);
  auto meta = make_cached<AutogradMeta>();
  meta->requires_grad = true;
  meta->producer = record_;
  linked.impl().autograd = std::move(meta);
  return linked;
}

Tensor link_output(std::shared_ptr<Record> rec, const OpSpec& spec, Tensor output) {
  Tape& tape = Tape::current();
  rec->op_ = spec.op;
  rec->scope_ = NameScope::current();
  rec->time_step_ = TimeStepScope::current();
  rec->seq_ = tape.next_seq();
  rec->tape_id_ = tape.id();
  rec->output_shape_ = output.shape();
  rec->output_dtype_ = output.dtype();
  rec->inputs_.reserve(spec.inputs.size());
  detail::ReadWatch* const watch = read_watch;
  for (const Tensor& in : spec.inputs) {
    Edge e{.shape = in.shape(), .dtype = in.dtype()};
    if (needs_grad(in)) {
      const auto& meta = watch ? watch->link(spec.op, in.impl().autograd) : in.impl().autograd;
      if (meta->producer) {
        check_same_thread(*meta->producer, tape, spec.op, rec->inputs_.size());
        e.producer = meta->producer;
      } else {
        e.leaf = meta;
      }
    }
    rec->inputs_.push_back(std::move(e));
  }
  // An op may hand back one of its inputs unchanged; the output needs a handle of its own.
  for (const Tensor& in : spec.inputs) {
    if (in.impl_ptr() == output.impl_ptr()) {
      output = plain_alias(output);
      break;
    }
  }
  // The record must not own its output: output -> meta -> record -> output would be a cycle
  // that outlives every handle. So the output, saved by `.save_output` or listed in `.save`,
  // is kept as a plain alias of its data.
  for (const Tensor& s : spec.save) {
    const bool is_output = s.defined() && s.impl_ptr() == output.impl_ptr();
    rec->saved_.push_back(
        {is_output ? plain_alias(s) : s, s.defined() ? s.version() : 0, is_output});
  }
  if (spec.save_output) {
    rec->saved_output_ = SavedTensor{plain_alias(output), output.version(), true};
  }
  auto meta = make_cached<AutogradMeta>();
  meta->requires_grad = true;
  meta->producer = rec;
  rec->output_meta_ = meta;
  output.impl().autograd = std::move(meta);
  tape.append(rec);
  return output;
}

void mark_step_state(const Tensor& state) {
  const AutogradMeta* meta = state.defined() ? autograd_meta(state) : nullptr;
  if (meta != nullptr && meta->producer) meta->producer->step_state_ = true;
}

namespace detail {

bool should_record(const OpSpec& spec) {
  if (!GradMode::enabled()) {
    if (read_watch != nullptr) read_watch->read_unrecorded(spec);
    return false;
  }
  for (const Tensor& in : spec.inputs) {
    if (needs_grad(in)) return true;
  }
  return false;
}

void check_anomaly(const OpSpec& spec, const Tensor& output) {
  if (!AnomalyGuard::enabled()) return;
  const FiniteScan out = scan_finite(output);
  if (out.first_bad < 0) return;
  const std::string here = where_of(*NameScope::current(), TimeStepScope::current());
  const std::string where = rule_in_progress != nullptr ? " while computing the gradient rule of " +
                                                              describe_record(*rule_in_progress)
                                                        : (here.empty() ? "" : " in scope " + here);
  // Under AnomalyGuard every op checks its output, so a NaN already in an input was not made
  // by an op under the guard: blame the input, not the op that merely passed it on.
  for (std::size_t i = 0; i < spec.inputs.size(); ++i) {
    const Tensor& in = spec.inputs[i];
    const FiniteScan scan = scan_finite(in);
    if (scan.first_bad < 0) continue;
    throw_error<AutogradError>(
        "anomaly: input {} of {}{} already holds NaN/Inf (first at {} of shape {}); {}", i, spec.op,
        where, index_in(in.shape(), scan.first_bad), in.shape(), origin_of(in));
  }
  std::string inputs;
  for (const Tensor& in : spec.inputs) {
    inputs += (inputs.empty() ? "" : ", ") + describe_range(in);
  }
  throw_error<AutogradError>(
      "anomaly: {}{} produced NaN/Inf (first at {} of its output, shape {}) from finite inputs "
      "{}",
      spec.op, where, index_in(output.shape(), out.first_bad), output.shape(), inputs);
}

ReadWatchScope::ReadWatchScope(ReadWatch& watch) : previous_(read_watch) {
  read_watch = &watch;
}
ReadWatchScope::~ReadWatchScope() {
  read_watch = previous_;
}

const char* intern_op_name(const std::string& name) {
  static std::mutex mutex;
  static std::unordered_set<std::string> names;
  std::lock_guard lock(mutex);
  return names.insert(name).first->c_str();
}

}  // namespace detail
}  // namespace tapegrad
