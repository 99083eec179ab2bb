// Records: one per differentiable op, appended to the thread's tape.
//
// How an op is written (ops/ is all of this shape):
//
//   Tensor exp(const Tensor& x) {
//     return record({.op = "exp", .inputs = {x}, .save_output = true}, kernel::exp(x),
//                   [](const BackwardContext& c) -> Grads {
//                     // d e^x = e^x dx
//                     return {c.grad * c.output()};
//                   });
//   }
//
// record() runs the checks of the active modes (anomaly), and when grad mode is on and an
// input requires grad, creates the Record, appends it to the tape and links the output to
// it. The rule receives the output's gradient and returns one gradient per input (undefined
// for inputs that need none), written with ops so that with create_graph the backward pass
// is itself recorded. The engine, not the rule, sums a broadcast gradient back to the
// input's shape and accumulates gradients from several consumers.
//
// What a record keeps alive: an Edge per input (the input's producer record or, for a
// leaf, its AutogradMeta), the tensors the rule said it reads (`.save`), and the rule
// object. Rules capture plain values only; tensors go through `.save` so that in-place
// modification is caught (version counters) and a saved output does not form a cycle.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <tapegrad/autograd/autograd_meta.hpp>
#include <tapegrad/autograd/grad_mode.hpp>
#include <tapegrad/core/allocator.hpp>
#include <tapegrad/core/tensor.hpp>

namespace tapegrad {

class Tape;

// One input's gradient, as a rule returns it: usually a tensor of the input's shape (or one
// that broadcasts to it). Two special forms leave the work to the engine, which finishes
// every form in one place (engine.cpp) when it sums the input's gradient:
//  - slice: the values of one slice of the input, zero elsewhere. The engine adds them into
//    that slice of the pending sum in place: materializing zeros of the whole input for
//    every time step would make an unrolled RNN's backward quadratic in the steps.
//  - product: the matrix product left @ right. The engine multiplies straight into the
//    pending sum (a GEMM accumulating into its output), so the T per-step contributions to a
//    recurrent weight's gradient need no temporary, zero-fill or extra add each.
// When the backward pass is itself recorded (create_graph), the engine writes a special form
// with ordinary ops instead: `recorded` is the op's formula for it, so the rule never asks
// which kind of pass is running.
struct InputGradient {
  enum class Form { dense, slice, product };
  using Recorded = Tensor (*)(const InputGradient& g, const Shape& input_shape);

  InputGradient() = default;
  InputGradient(Tensor t) : values(std::move(t)) {}
  // values hold elements start, start+step, ... of `axis` (with the axis kept).
  static InputGradient slice(Tensor values, int64_t axis, int64_t start, int64_t step,
                             Recorded recorded) {
    InputGradient g(std::move(values));
    g.form = Form::slice;
    g.axis = axis;
    g.start = start;
    g.step = step;
    g.recorded = recorded;
    return g;
  }
  // left (M, K) @ right (K, N), both 2-D, for an input of shape (M, N).
  static InputGradient product(Tensor left, Tensor right, Recorded recorded) {
    InputGradient g(std::move(left));
    g.form = Form::product;
    g.right = std::move(right);
    g.recorded = recorded;
    return g;
  }
  bool defined() const { return values.defined(); }

  Tensor values;  // dense: the gradient; slice: the slice's values; product: the left factor
  Tensor right;   // product: the right factor
  Form form = Form::dense;
  int64_t axis = 0;  // slice
  int64_t start = 0;
  int64_t step = 1;
  Recorded recorded = nullptr;
};

// Gradients returned by a rule, one per input. Allocated from the caching allocator.
using Grads = std::vector<InputGradient, CachingAllocator<InputGradient>>;

// A non-owning list of tensors: {a, b} or a std::vector<Tensor>. It lives inside one call
// to record(), so the braced list it points into outlives it.
class TensorRefs {
 public:
  TensorRefs() = default;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winit-list-lifetime"
  TensorRefs(std::initializer_list<Tensor> list) : data_(list.begin()), size_(list.size()) {}
#pragma GCC diagnostic pop
  TensorRefs(const std::vector<Tensor>& v) : data_(v.data()), size_(v.size()) {}
  const Tensor* begin() const {
    return data_;
  }
  const Tensor* end() const {
    return data_ + size_;
  }
  std::size_t size() const {
    return size_;
  }
  const Tensor& operator[](std::size_t i) const {
    return data_[i];
  }

 private:
  const Tensor* data_ = nullptr;
  std::size_t size_ = 0;
};

struct OpSpec {
  const char* op;
  TensorRefs inputs;
  TensorRefs save = {};      // tensors the rule reads, by index: c.saved(i)
  bool save_output = false;  // the rule reads the output: c.output()
};

// Where an input's gradient goes.
struct Edge {
  std::shared_ptr<Record> producer = {};    // input made by an op
  std::shared_ptr<AutogradMeta> leaf = {};  // input is a leaf that requires grad
  Shape shape;
  DType dtype = f32;
  bool needs_grad() const { return producer || leaf; }
};

struct SavedTensor {
  Tensor tensor;  // for the saved output: a plain alias (the record must not own its output)
  std::uint64_t version = 0;
  bool is_output = false;
};

class BackwardContext;

class Record {
 public:
  virtual ~Record();
  Record(const Record&) = delete;
  Record& operator=(const Record&) = delete;

  const char* op() const { return op_; }
  const std::string& scope() const { return *scope_; }
  // The recurrent layer call and time step the op was recorded in (TimeStepScope).
  const TimeStep& time_step() const { return time_step_; }
  // "scope" plus the time step when there is one: "Sequential/0:SimpleRNN [step 3]"; "" for
  // a record made outside every scope and step.
  std::string where() const;
  std::uint64_t seq() const { return seq_; }
  const Shape& output_shape() const { return output_shape_; }
  DType output_dtype() const { return output_dtype_; }
  const std::vector<Edge, CachingAllocator<Edge>>& inputs() const { return inputs_; }
  bool released() const { return released_; }
  // The id of the tape (of the thread) that recorded this op.
  std::uint64_t tape_id() const { return tape_id_; }
  // Bytes of tensor data this record keeps alive for backward.
  std::size_t saved_bytes() const;
  // Calls f(const SavedTensor&) for every tensor kept for backward (none once released);
  // graph dumps read values from them, since the record does not keep its output otherwise.
  template <class F>
  void for_each_saved(F&& f) const {
    for (const SavedTensor& s : saved_) f(s);
    if (saved_output_) f(*saved_output_);
  }
  // The meta of the output tensor while that tensor is alive (retain_grad).
  std::shared_ptr<AutogradMeta> output_meta() const { return output_meta_.lock(); }

  // Whether the output is the state a time step hands on (mark_step_state): the record the
  // gradient-flow report and graph dumps read as the step's h_t.
  bool step_state() const { return step_state_; }

  // Hooks on the output's gradient; they outlive the output tensor's handles.
  void add_hook(GradHook hook) { hooks_.push_back(std::move(hook)); }
  const std::vector<GradHook>& hooks() const { return hooks_; }

  // Used by the engine.
  Grads apply(const BackwardContext& ctx);
  void release();

 protected:
  Record() = default;
  virtual Grads run_rule(const BackwardContext& ctx) = 0;
  virtual void drop_rule() = 0;

 private:
  friend class BackwardContext;
  friend Tensor link_output(std::shared_ptr<Record> rec, const OpSpec& spec, Tensor output);
  friend void mark_step_state(const Tensor& state);

  const char* op_ = "";
  const std::string* scope_ = nullptr;
  TimeStep time_step_;
  std::uint64_t seq_ = 0;
  std::uint64_t tape_id_ = 0;
  Shape output_shape_;
  DType output_dtype_ = f32;
  std::vector<Edge, CachingAllocator<Edge>> inputs_;
  std::vector<SavedTensor, CachingAllocator<SavedTensor>> saved_;
  std::optional<SavedTensor> saved_output_;
  std::weak_ptr<AutogradMeta> output_meta_;
  std::vector<GradHook> hooks_;
  bool released_ = false;
  bool step_state_ = false;
};

class BackwardContext {
 public:
  BackwardContext(const Tensor& grad, const std::shared_ptr<Record>& record)
      : grad(grad), record_(record) {}
  const Tensor& grad;  // d loss / d output
  // The tensors of `.save`, and the output. When the backward pass is being recorded, a
  // saved output comes back linked to this record, so higher derivatives flow through it.
  Tensor saved(std::size_t i) const;
  Tensor output() const;
  const Shape& input_shape(std::size_t i) const { return record_->inputs_[i].shape; }
  bool needs_input_grad(std::size_t i) const { return record_->inputs_[i].needs_grad(); }
  std::size_t input_count() const { return record_->inputs_.size(); }

 private:
  Tensor linked(const SavedTensor& s) const;

  const std::shared_ptr<Record>& record_;
};

namespace detail {

template <class Rule>
class RecordWithRule final : public Record {
 public:
  explicit RecordWithRule(Rule rule) : rule_(std::move(rule)) {}

 private:
  Grads run_rule(const BackwardContext& ctx) override { return (*rule_)(ctx); }
  void drop_rule() override { rule_.reset(); }
  std::optional<Rule> rule_;
};

bool should_record(const OpSpec& spec);
void check_anomaly(const OpSpec& spec, const Tensor& output);

// Sees the tensors that require grad as ops read them, for tg::checkpoint (checkpoint.cpp):
// while its function runs unrecorded in the forward pass, each op reports its inputs
// (read_unrecorded); while backward runs the function again, recorded, each edge an op
// records leads to the meta link() returns (the one read, or a leaf standing in for it), or
// link() throws. ReadWatchScope installs one on the calling thread.
class ReadWatch {
 public:
  virtual void read_unrecorded(const OpSpec& spec) = 0;
  virtual const std::shared_ptr<AutogradMeta>& link(const char* op,
                                                    const std::shared_ptr<AutogradMeta>& read) = 0;

 protected:
  ~ReadWatch() = default;
};

class ReadWatchScope {
 public:
  explicit ReadWatchScope(ReadWatch& watch);
  ~ReadWatchScope();
  ReadWatchScope(const ReadWatchScope&) = delete;
  ReadWatchScope& operator=(const ReadWatchScope&) = delete;

 private:
  ReadWatch* previous_;
};

// The name kept for the life of the program, as records keep op names (Function, checkpoint).
const char* intern_op_name(const std::string& name);

}  // namespace detail

// Fills the record from spec, appends it to the tape and returns output linked to it.
Tensor link_output(std::shared_ptr<Record> rec, const OpSpec& spec, Tensor output);

template <class Rule>
Tensor record(const OpSpec& spec, Tensor output, Rule rule) {
  detail::check_anomaly(spec, output);
  if (!detail::should_record(spec)) return output;
  return link_output(make_cached<detail::RecordWithRule<Rule>>(std::move(rule)), spec,
                     std::move(output));
}

}  // namespace tapegrad
