#include <tapegrad/autograd/record.hpp>

#include <cmath>

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

std::string describe_record(const Record& rec) {
  return fmt::format("{} (#{}{})", rec.op(), rec.seq(),
                     rec.scope().empty() ? "" : " in scope " + rec.scope());
}

template <class T>
double finite_range_check(const Tensor& t, double& lo, double& hi) {
  const Tensor dense = t.contiguous();
  const T* p = dense.data<T>();
  double bad = 0;
  lo = INFINITY;
  hi = -INFINITY;
  for (int64_t i = 0; i < dense.numel(); ++i) {
    const double v = p[i];
    if (!std::isfinite(v))
      bad = v;
    else {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  return bad;
}

std::string describe_range(const Tensor& t) {
  double lo = 0;
  double hi = 0;
  dispatch(t.dtype(), [&]<class T>(T) { finite_range_check<T>(t, lo, hi); });
  return fmt::format("{} in [{:.4g}, {:.4g}]", t.shape(), lo, hi);
}

bool has_non_finite(const Tensor& t) {
  double lo = 0;
  double hi = 0;
  return dispatch(t.dtype(), [&]<class T>(T) { return finite_range_check<T>(t, lo, hi) != 0; });
}

}  // namespace

Record::~Record() {
  Tape::record_died(tape_);
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
  rec->seq_ = tape.next_seq();
  rec->tape_ = &tape;
  rec->output_shape_ = output.shape();
  rec->output_dtype_ = output.dtype();
  rec->inputs_.reserve(spec.inputs.size());
  for (const Tensor& in : spec.inputs) {
    Edge e{.shape = in.shape(), .dtype = in.dtype()};
    if (needs_grad(in)) {
      const auto& meta = in.impl().autograd;
      if (meta->producer) {
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

namespace detail {

bool should_record(const OpSpec& spec) {
  if (!GradMode::enabled()) return false;
  for (const Tensor& in : spec.inputs) {
    if (needs_grad(in)) return true;
  }
  return false;
}

void check_anomaly(const OpSpec& spec, const Tensor& output) {
  if (!AnomalyGuard::enabled() || !has_non_finite(output)) return;
  std::string inputs;
  for (const Tensor& in : spec.inputs) {
    inputs += (inputs.empty() ? "" : ", ") + describe_range(in);
  }
  const std::string& scope = *NameScope::current();
  const std::string where =
      rule_in_progress != nullptr
          ? " while computing the gradient rule of " + describe_record(*rule_in_progress)
          : (scope.empty() ? "" : " in scope " + scope);
  throw_error<AutogradError>("anomaly: {}{} produced NaN/Inf from inputs {}", spec.op, where,
                             inputs);
}

}  // namespace detail
}  // namespace tapegrad
