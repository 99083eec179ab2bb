// The backward pass; engine.hpp says how it works.
#include <tapegrad/autograd/engine.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include <tapegrad/autograd/backward_hooks.hpp>
#include <tapegrad/autograd/primitives.hpp>
#include <tapegrad/autograd/record.hpp>
#include <tapegrad/autograd/tape.hpp>
#include <tapegrad/core/denormal.hpp>
#include <tapegrad/core/kernels.hpp>

namespace tapegrad {
namespace {

// The indices along one axis of a gradient buffer that no slice has written yet. A buffer
// that only slices fill (the per-step gradients of an unrolled layer's input) is allocated
// uninitialized: a slice landing on unwritten indices is copied rather than added, and only
// the indices no slice reached are zeroed, once, when the sum is settled.
class Unwritten {
 public:
  Unwritten(int64_t axis, int64_t size) : axis_(axis), written_(size, false) {}

  // Whether the slice (axis, start, step, count) reaches only unwritten indices; if so,
  // marks them written.
  bool claim(int64_t axis, int64_t start, int64_t step, int64_t count) {
    if (axis != axis_) return false;
    for (int64_t k = 0; k < count; ++k) {
      if (written_[start + k * step]) return false;
    }
    for (int64_t k = 0; k < count; ++k) written_[start + k * step] = true;
    return true;
  }

  // Zeros the indices of sum that are still unwritten.
  void zero_in(const Tensor& sum) const {
    const auto n = static_cast<int64_t>(written_.size());
    for (int64_t lo = 0; lo < n;) {
      if (written_[lo]) {
        ++lo;
        continue;
      }
      int64_t hi = lo;
      while (hi < n && !written_[hi]) ++hi;
      kernel::fill(kernel::slice(sum, axis_, lo, hi), 0.0);
      lo = hi;
    }
  }

 private:
  int64_t axis_;
  std::vector<bool> written_;
};

// A gradient being summed from several consumers during one backward pass, finishing the
// special forms of InputGradient. The first contribution is kept as given (it may alias
// another tensor); the first sum makes a dense buffer of our own, which later contributions
// are written into in place, unless the backward pass is being recorded (create_graph),
// where every sum must be a recorded op (and no special form reaches here).
class PendingGradient {
 public:
  bool empty() const { return !sum_.defined(); }

  void add(Tensor g, bool create_graph) {
    settle();
    if (empty()) {
      sum_ = std::move(g);
    } else if (owned_) {
      kernel::add_into(sum_, g);
    } else {
      sum_ = tapegrad::add(sum_, g);
      owned_ = !create_graph;
    }
  }

  // g.values hold one slice of an input of this shape and dtype.
  void add_slice(const InputGradient& g, const Shape& shape, DType dtype) {
    const int64_t count = g.values.shape()[g.axis];
    if (empty()) {
      sum_ = tapegrad::empty(shape, dtype);
      unwritten_ = std::make_unique<Unwritten>(g.axis, shape[g.axis]);
    } else if (!owned_) {
      sum_ = sum_.clone();  // it may alias another tensor: write into a copy
    }
    owned_ = true;
    const Tensor region =
        kernel::slice(sum_, g.axis, g.start, kernel::slice_stop(g.start, count, g.step), g.step);
    if (unwritten_ && unwritten_->claim(g.axis, g.start, g.step, count)) {
      kernel::copy_into(region, g.values);
      return;
    }
    settle();
    kernel::add_into(region, g.values);
  }

  // g.values @ g.right, multiplied straight into our buffer once we own one.
  void add_product(const InputGradient& g) {
    settle();
    if (owned_) {
      kernel::matmul_add_into(sum_, g.values, g.right);
      return;
    }
    Tensor product = kernel::matmul(g.values, g.right);
    if (!empty()) kernel::add_into(product, sum_);
    sum_ = std::move(product);
    owned_ = true;
  }

  Tensor take() {
    settle();
    owned_ = false;
    return std::move(sum_);
  }

  // Whether the sum is a dense buffer of this pass's own, which nothing else references.
  bool owned() const { return owned_; }

 private:
  void settle() {
    if (!unwritten_) return;
    unwritten_->zero_in(sum_);
    unwritten_.reset();
  }

  Tensor sum_;
  bool owned_ = false;  // sum_ is a dense buffer of this pass's own
  // Only a buffer that slices fill has one, so that a pass's slots (one per record number)
  // stay small.
  std::unique_ptr<Unwritten> unwritten_;
};

// A record the walk must still visit: kept alive here, since its consumers may die before
// the walk reaches it, with its output's gradient summed so far.
struct RecordSlot {
  std::shared_ptr<Record> rec;
  PendingGradient grad;
};

struct LeafSlot {
  std::shared_ptr<AutogradMeta> meta;
  PendingGradient grad;
  bool finished = false;  // its gradient is in .grad() already (backward_hooks.hpp)
};

// What a pass counts before it starts when leaves have post-accumulate hooks
// (backward_hooks.hpp): per leaf, the edges from reachable records still to run.
struct LeafUses {
  std::unordered_map<const AutogradMeta*, std::int64_t> left;
  std::vector<const AutogradMeta*> order;  // the order the counts will reach zero
};

class BackwardPass;
// The innermost pass running on this thread, which queue_backward_callback and
// backward_leaf_order answer for.
thread_local BackwardPass* running_pass = nullptr;

class RunningPassScope {
 public:
  explicit RunningPassScope(BackwardPass* pass) : outer_(std::exchange(running_pass, pass)) {}
  ~RunningPassScope() { running_pass = outer_; }
  RunningPassScope(const RunningPassScope&) = delete;
  RunningPassScope& operator=(const RunningPassScope&) = delete;

 private:
  BackwardPass* outer_;
};

Tensor ones_for(const Tensor& t) {
  return ones(t.shape(), t.dtype());
}

double l2_norm(const Tensor& t) {
  return std::sqrt(kernel::sum(kernel::mul(t, t), {}, false).item());
}

Tensor run_hooks(const std::vector<GradHook>& hooks, Tensor g) {
  for (const auto& hook : hooks) {
    Tensor replaced = hook(g);
    if (replaced.defined()) {
      if (!(replaced.shape() == g.shape())) {
        throw_error<ShapeError>("hook: returned a gradient of shape {}, expected {}",
                                replaced.shape(), g.shape());
      }
      g = replaced;
    }
  }
  return g;
}

// A gradient stored in .grad() must own its data: rule results may alias each other. A sum
// the pass made in a buffer of its own (`owned`) is handed over as it is.
void accumulate_into_grad(AutogradMeta& meta, const Tensor& g, bool create_graph,
                          bool owned = false) {
  if (!meta.grad.defined()) {
    meta.grad = create_graph || owned ? g : g.clone();
  } else if (create_graph || needs_grad(meta.grad)) {
    meta.grad = add(meta.grad, g);
  } else {
    kernel::add_into(meta.grad, g);
  }
}

void check_anomaly_in_rule(const Record& rec, const Grads& grads) {
  for (std::size_t i = 0; i < grads.size(); ++i) {
    if (!grads[i].defined()) continue;
    const bool product = grads[i].form == InputGradient::Form::product;
    const Tensor dense =
        product ? kernel::matmul(grads[i].values, grads[i].right) : grads[i].values.contiguous();
    const bool bad = dispatch(dense.dtype(), [&]<class T>(T) {
      const T* p = dense.data<T>();
      return std::any_of(p, p + dense.numel(), [](T v) { return !std::isfinite(v); });
    });
    if (bad) {
      throw_error<AutogradError>(
          "anomaly: the gradient rule of {} (#{}{}) produced NaN/Inf in the gradient of input {} "
          "(shape {})",
          rec.op(), rec.seq(), rec.where().empty() ? "" : " in scope " + rec.where(), i,
          dense.shape());
    }
  }
}

class BackwardPass {
 public:
  BackwardPass(const GradOptions& opts, bool accumulate_leaves)
      : create_graph_(opts.create_graph),
        retain_graph_(opts.retain_graph.value_or(opts.create_graph)),
        accumulate_leaves_(accumulate_leaves) {}

  // Records the norm of every finished gradient into `norms`.
  void trace(GradientNorms* norms) { trace_ = norms; }

  // The gradients of these tensors are captured and returned by run().
  void capture(const std::vector<Tensor>& inputs) {
    for (const Tensor& t : inputs) {
      check_defined("grad", t);
      if (!needs_grad(t)) {
        throw ValueError("grad: one of the inputs does not require grad");
      }
      targets_.push_back(t.impl().autograd);
    }
    captured_.resize(inputs.size());
  }

  std::vector<Tensor> run(const std::vector<Tensor>& roots, const std::vector<Tensor>& seeds) {
    EnableGradGuard grad_mode(create_graph_);
    // Vanishing gradients turn subnormal, and every op on them slows down many times.
    const FlushDenormalScope flush;
    const RunningPassScope running(this);
    start_ = find_start(roots);
    if (accumulate_leaves_ && detail::post_accumulate_hooks_exist()) count_leaf_uses(roots);
    for (std::size_t i = 0; i < roots.size(); ++i) {
      const Tensor seed =
          i < seeds.size() && seeds[i].defined() ? seeds[i] : default_seed(roots[i]);
      const auto& meta = roots[i].impl().autograd;
      PendingGradient& pending = meta->producer ? pending_of(meta->producer) : pending_of(meta);
      pending.add(seed, create_graph_);
    }
    walk();
    finish_leaves();
    // Callbacks may queue more callbacks: index, not iterators.
    for (std::size_t i = 0; i < callbacks_.size(); ++i) callbacks_[i]();
    return std::move(captured_);
  }

  void queue_callback(std::function<void()> fn) { callbacks_.push_back(std::move(fn)); }
  const std::vector<const AutogradMeta*>& leaf_order() const { return uses_.order; }

 private:
  static void check_root(const Tensor& root) {
    check_defined("backward", root);
    if (!needs_grad(root)) {
      throw_error<AutogradError>(
          "backward: the tensor of shape {} does not require grad and has no recorded op; "
          "was it computed under NoGradGuard, or from inputs that do not require grad?",
          root.shape());
    }
  }

  // Counts, per leaf, the edges to it from the records reachable from the roots, and orders
  // the leaves by when the walk will run the last of them: the lowest-numbered reader runs
  // last, and within one record the edges are taken in input order.
  void count_leaf_uses(const std::vector<Tensor>& roots) {
    std::vector<bool> seen;  // by slot index, as slots_
    std::vector<const Record*> stack;
    auto reach = [&](const std::shared_ptr<Record>& rec) {
      const std::size_t i = start_ - 1 - rec->seq();
      if (i >= seen.size()) seen.resize(i + 1);
      if (seen[i]) return;
      seen[i] = true;
      stack.push_back(rec.get());
    };
    for (const Tensor& root : roots) {
      if (const auto& producer = root.impl().autograd->producer) reach(producer);
    }
    // Per leaf: (sequence number, input index) of the edge the walk will take last.
    std::unordered_map<const AutogradMeta*, std::pair<std::uint64_t, std::size_t>> last_edge;
    while (!stack.empty()) {
      const Record* rec = stack.back();
      stack.pop_back();
      const auto& inputs = rec->inputs();
      for (std::size_t i = 0; i < inputs.size(); ++i) {
        if (inputs[i].producer) reach(inputs[i].producer);
        if (!inputs[i].leaf) continue;
        ++uses_.left[inputs[i].leaf.get()];
        const auto [it, first] = last_edge.try_emplace(inputs[i].leaf.get(), rec->seq(), i);
        if (!first && (rec->seq() < it->second.first ||
                       (rec->seq() == it->second.first && i > it->second.second))) {
          it->second = {rec->seq(), i};
        }
      }
    }
    for (const auto& [leaf, edge] : last_edge) uses_.order.push_back(leaf);
    std::sort(uses_.order.begin(), uses_.order.end(), [&](const auto* a, const auto* b) {
      const auto& [seq_a, input_a] = last_edge.at(a);
      const auto& [seq_b, input_b] = last_edge.at(b);
      return seq_a != seq_b ? seq_a > seq_b : input_a < input_b;
    });
  }

  // One past the newest root's sequence number (0 when every root is a leaf).
  std::size_t find_start(const std::vector<Tensor>& roots) {
    std::size_t start = 0;
    for (const Tensor& root : roots) {
      check_root(root);
      const auto& producer = root.impl().autograd->producer;
      if (!producer) continue;
      Tape::owning(*producer, "backward");
      start = std::max<std::size_t>(start, producer->seq() + 1);
    }
    return start;
  }

  static Tensor default_seed(const Tensor& root) {
    if (root.numel() != 1) {
      throw_error<ShapeError>(
          "backward: the output has shape {}; only a one-element output gets an implicit "
          "gradient of 1. Pass grad_outputs of the same shape",
          root.shape());
    }
    return ones_for(root);
  }

  void walk() {
    for (std::size_t i = 0; i < slots_.size() && pending_ > 0; ++i) {
      RecordSlot& slot = slots_[i];
      if (!slot.rec) continue;
      --pending_;
      const std::shared_ptr<Record> rec = std::move(slot.rec);
      const Tensor g = output_gradient_complete(*rec, slot.grad.take());
      propagate(rec, g);
    }
  }

  // Hooks, retain_grad and capture see the finished gradient of a record's output.
  Tensor output_gradient_complete(Record& rec, Tensor g) {
    g = run_hooks(rec.hooks(), std::move(g));
    if (auto meta = rec.output_meta(); meta && meta->retains_grad) {
      accumulate_into_grad(*meta, g, create_graph_);
    }
    if (trace_ != nullptr) trace_->outputs[&rec] = l2_norm(g);
    for (std::size_t i = 0; i < targets_.size(); ++i) {
      if (targets_[i]->producer.get() == &rec) captured_[i] = g;
    }
    return g;
  }

  void propagate(const std::shared_ptr<Record>& rec, const Tensor& g) {
    const auto& inputs = rec->inputs();
    if (std::none_of(inputs.begin(), inputs.end(), [](const Edge& e) { return e.needs_grad(); })) {
      return;
    }
    Grads grads = rec->apply(BackwardContext(g, rec));
    if (grads.size() != inputs.size()) {
      throw_error<AutogradError>("the gradient rule of {} returned {} gradients for {} inputs",
                                 rec->op(), grads.size(), inputs.size());
    }
    if (AnomalyGuard::enabled()) check_anomaly_in_rule(*rec, grads);
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const Edge& e = inputs[i];
      if (e.needs_grad() && grads[i].defined()) {
        check_dtype(*rec, i, grads[i].values);
        PendingGradient& pending = e.producer ? pending_of(e.producer) : pending_of(e.leaf);
        add_gradient(pending, *rec, i, std::move(grads[i]));
      }
      if (e.leaf) leaf_edge_done(e.leaf);
    }
    if (!retain_graph_) rec->release();
  }

  // Every form of InputGradient is finished here. A recorded pass writes the special forms
  // with the ops' own formulas, so that the sums stay differentiable.
  void add_gradient(PendingGradient& pending, const Record& rec, std::size_t i, InputGradient g) {
    using Form = InputGradient::Form;
    const Edge& e = rec.inputs()[i];
    if (create_graph_ && g.form != Form::dense) g = g.recorded(g, e.shape);
    switch (g.form) {
      case Form::dense:
        pending.add(fit_to_input(rec, i, std::move(g.values)), create_graph_);
        return;
      case Form::slice:
        pending.add_slice(g, e.shape, e.dtype);
        return;
      case Form::product:
        check_product_shape(rec, i, g);
        pending.add_product(g);
        return;
    }
  }

  static void check_product_shape(const Record& rec, std::size_t i, const InputGradient& g) {
    const Shape& shape = rec.inputs()[i].shape;
    const Shape& l = g.values.shape();
    const Shape& r = g.right.shape();
    if (l.size() != 2 || r.size() != 2 || shape.size() != 2 || l[1] != r[0] || l[0] != shape[0] ||
        r[1] != shape[1]) {
      throw_error<AutogradError>(
          "the gradient rule of {} returned a product of shapes {} and {} for input {} of "
          "shape {}",
          rec.op(), l, r, i, shape);
    }
  }

  static void check_dtype(const Record& rec, std::size_t i, const Tensor& g) {
    const Edge& e = rec.inputs()[i];
    if (g.dtype() != e.dtype) {
      throw_error<AutogradError>("the gradient rule of {} returned dtype {} for input {} ({})",
                                 rec.op(), g.dtype(), i, e.dtype);
    }
  }

  static Tensor fit_to_input(const Record& rec, std::size_t i, Tensor g) {
    const Edge& e = rec.inputs()[i];
    if (g.shape() == e.shape) return g;
    if (!(broadcast_shapes(e.shape, g.shape(), rec.op()) == g.shape())) {
      throw_error<AutogradError>(
          "the gradient rule of {} returned shape {} for input {} of shape {}", rec.op(), g.shape(),
          i, e.shape);
    }
    return sum_to(g, e.shape);
  }

  // The pending gradient of a record's output; the first request schedules the record.
  PendingGradient& pending_of(const std::shared_ptr<Record>& rec) {
    const std::size_t i = start_ - 1 - rec->seq();
    if (i >= slots_.size()) slots_.resize(i + 1);
    RecordSlot& slot = slots_[i];
    if (!slot.rec) {
      slot.rec = rec;
      ++pending_;
    }
    return slot.grad;
  }

  PendingGradient& pending_of(const std::shared_ptr<AutogradMeta>& leaf) {
    for (LeafSlot& slot : leaves_) {
      if (slot.meta == leaf) return slot.grad;
    }
    leaves_.push_back({leaf, {}});
    return leaves_.back().grad;
  }

  // With leaf uses counted, a leaf is finished as soon as the last edge to it has run.
  void leaf_edge_done(const std::shared_ptr<AutogradMeta>& leaf) {
    if (uses_.left.empty()) return;  // no post-accumulate hooks: nothing is counted
    const auto it = uses_.left.find(leaf.get());
    if (it == uses_.left.end() || --it->second > 0) return;
    for (LeafSlot& slot : leaves_) {
      if (slot.meta == leaf) finish_leaf(slot);
    }
  }

  void finish_leaves() {
    for (LeafSlot& slot : leaves_) finish_leaf(slot);
  }

  void finish_leaf(LeafSlot& slot) {
    if (std::exchange(slot.finished, true)) return;
    // A hook's result may alias anything; the pass's own buffer aliases nothing.
    const bool owned = slot.grad.owned() && slot.meta->hooks.empty();
    Tensor g = run_hooks(slot.meta->hooks, slot.grad.take());
    if (trace_ != nullptr) trace_->leaves[slot.meta.get()] = l2_norm(g);
    for (std::size_t i = 0; i < targets_.size(); ++i) {
      if (targets_[i] == slot.meta) captured_[i] = g;
    }
    if (!accumulate_leaves_) return;
    accumulate_into_grad(*slot.meta, g, create_graph_, owned);
    if (slot.meta->post_accumulate_hooks.empty()) return;
    // A copy: a hook may remove itself (or another) while they run.
    const auto hooks = slot.meta->post_accumulate_hooks;
    for (const auto& [id, hook] : hooks) hook(slot.meta->grad);
  }

  bool create_graph_;
  bool retain_graph_;
  bool accumulate_leaves_;
  std::size_t start_ = 0;  // one past the newest root's sequence number
  // By sequence number, newest first (slots_[i] is the record numbered start_ - 1 - i), as
  // far back as a gradient has reached: the records still to visit filled in. Sequence
  // numbers order records as the tape does, so the walk needs neither tape positions nor a
  // search for them; and a nested pass over a few new records (a checkpointed segment's
  // recompute) needs only a few slots.
  std::vector<RecordSlot, CachingAllocator<RecordSlot>> slots_;
  int64_t pending_ = 0;
  std::vector<LeafSlot, CachingAllocator<LeafSlot>> leaves_;
  std::vector<std::shared_ptr<AutogradMeta>> targets_;
  std::vector<Tensor> captured_;
  GradientNorms* trace_ = nullptr;
  LeafUses uses_;  // counted only when some leaf has post-accumulate hooks
  std::vector<std::function<void()>> callbacks_;
};

BackwardPass& running_pass_for(const char* what) {
  if (running_pass == nullptr) {
    throw_error<AutogradError>(
        "{}: no backward pass is running on this thread; call it from a hook, while backward "
        "runs",
        what);
  }
  return *running_pass;
}

void check_seeds(const std::vector<Tensor>& roots, const std::vector<Tensor>& seeds) {
  if (!seeds.empty() && seeds.size() != roots.size()) {
    throw_error<ValueError>("backward: {} outputs but {} output gradients", roots.size(),
                            seeds.size());
  }
  for (std::size_t i = 0; i < seeds.size(); ++i) {
    if (seeds[i].defined() && !(seeds[i].shape() == roots[i].shape())) {
      throw_error<ShapeError>("backward: output {} has shape {} but its gradient has shape {}", i,
                              roots[i].shape(), seeds[i].shape());
    }
  }
}

}  // namespace

void queue_backward_callback(std::function<void()> fn) {
  running_pass_for("queue_backward_callback").queue_callback(std::move(fn));
}

std::vector<const AutogradMeta*> backward_leaf_order() {
  return running_pass_for("backward_leaf_order").leaf_order();
}

GradientNorms gradient_norms(const Tensor& root) {
  GradientNorms norms;
  BackwardPass pass({.retain_graph = true}, /*accumulate_leaves=*/false);
  pass.trace(&norms);
  pass.run({root}, {});
  return norms;
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const GradOptions& opts, const std::vector<Tensor>& grad_outputs) {
  check_seeds(outputs, grad_outputs);
  BackwardPass pass(opts, /*accumulate_leaves=*/false);
  pass.capture(inputs);
  std::vector<Tensor> result = pass.run(outputs, grad_outputs);
  for (std::size_t i = 0; i < result.size(); ++i) {
    if (!result[i].defined() && !opts.allow_unused) {
      throw_error<AutogradError>(
          "grad: input {} (shape {}) is not used to compute the outputs; pass allow_unused=true "
          "to get an undefined gradient instead",
          i, inputs[i].shape());
    }
  }
  return result;
}

void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grad_roots,
              const GradOptions& opts) {
  check_seeds(roots, grad_roots);
  BackwardPass(opts, /*accumulate_leaves=*/true).run(roots, grad_roots);
}

}  // namespace tapegrad
