#include <tapegrad/autograd/checkpoint.hpp>

#include <algorithm>
#include <memory>
#include <optional>

#include <tapegrad/autograd/engine.hpp>
#include <tapegrad/autograd/record.hpp>
#include <tapegrad/autograd/tape.hpp>
#include <tapegrad/core/kernels.hpp>
#include <tapegrad/core/random.hpp>

namespace tapegrad {
namespace {

bool same_meta(const Tensor& a, const Tensor& b) {
  return autograd_meta(a) == autograd_meta(b);
}

// The forward pass's watch: every tensor requiring grad that an op of fn reads, and where it
// was first read. fn sees detached inputs, so these are the tensors it reads from outside.
class CapturedReads final : public detail::ReadWatch {
 public:
  struct Reader {
    const char* op;
    TimeStep step;
  };

  void read_unrecorded(const OpSpec& spec) override {
    for (const Tensor& in : spec.inputs) {
      if (!needs_grad(in)) continue;
      if (std::any_of(tensors.begin(), tensors.end(),
                      [&](const Tensor& t) { return same_meta(t, in); })) {
        continue;
      }
      tensors.push_back(in);
      readers.push_back({spec.op, TimeStepScope::current()});
    }
  }
  // Only an EnableGradGuard inside fn records here; its edges stay as they are.
  const std::shared_ptr<AutogradMeta>& link(const char*,
                                            const std::shared_ptr<AutogradMeta>& read) override {
    return read;
  }

  std::vector<Tensor> tensors;
  std::vector<Reader> readers;
};

// What one checkpoint call keeps for its backward (no tensor: those are the record's saved
// inputs, the explicit ones first, then the captured ones).
struct Segment {
  CheckpointFn fn;
  CheckpointOptions opts;
  const char* name = nullptr;
  std::optional<Generator> rng;  // the generator before fn ran, with preserve_rng_state
  std::size_t explicit_inputs = 0;
  std::vector<CapturedReads::Reader> readers;  // of the captured inputs
  std::vector<Shape> shapes;                   // of fn's outputs, packed flat one after another
  std::vector<int64_t> offsets;

  [[noreturn]] void refuse_create_graph() const {
    if (opts.create_graph_refusal) throw AutogradError(opts.create_graph_refusal());
    throw_error<AutogradError>(
        "{}: create_graph is not supported through tg::checkpoint (its backward runs fn again "
        "and differentiates it in a nested pass, which is not recorded); call fn without "
        "checkpoint for higher-order derivatives",
        name);
  }

  // Checks fn's outputs and notes their layout in the packed buffer.
  void lay_out(const std::vector<Tensor>& outputs) {
    if (outputs.empty()) throw_error<ValueError>("{}: fn returned no tensor", name);
    int64_t offset = 0;
    for (std::size_t k = 0; k < outputs.size(); ++k) {
      check_defined(name, outputs[k]);
      if (outputs[k].dtype() != outputs[0].dtype()) {
        throw_error<ValueError>(
            "{}: fn's outputs must share one dtype; output {} is {}, output 0 {}", name, k,
            outputs[k].dtype(), outputs[0].dtype());
      }
      if (needs_grad(outputs[k])) {
        throw_error<ValueError>(
            "{}: output {} of fn requires grad although fn ran unrecorded: fn returned a tensor "
            "from outside unchanged; return it from outside the checkpoint instead",
            name, k);
      }
      shapes.push_back(outputs[k].shape());
      offsets.push_back(offset);
      offset += outputs[k].numel();
    }
  }

  // A new handle (never one of fn's: the record links it) on all outputs, flat.
  static Tensor pack(const std::vector<Tensor>& outputs) {
    std::vector<Tensor> flat;
    for (const Tensor& o : outputs) flat.push_back(kernel::reshape(o, {o.numel()}));
    const Tensor packed = flat.size() == 1 ? flat[0].contiguous() : kernel::concat(flat, 0);
    return make_view(packed, packed.shape(), packed.strides(), packed.offset());
  }

  Tensor part(const Tensor& packed, std::size_t k) const {
    const int64_t n = shapes[k].numel();
    return kernel::reshape(kernel::slice(packed, 0, offsets[k], offsets[k] + n), shapes[k]);
  }

  // Output k's gradient goes into its part of the packed gradient, in place (a slice).
  InputGradient output_gradient(std::size_t k, const Tensor& g) const {
    if (GradMode::enabled()) refuse_create_graph();
    return InputGradient::slice(kernel::reshape(g, {g.numel()}), 0, offsets[k], 1,
                                &no_recorded_form);
  }
  // The slice's form under create_graph, which output_gradient has refused already.
  static Tensor no_recorded_form(const InputGradient&, const Shape&) {
    throw AutogradError("checkpoint: create_graph is not supported through tg::checkpoint");
  }

  Grads backward(const BackwardContext& c) const;
};

// The recompute's watch: the tensors fn reads from outside are linked to leaves standing in
// for them, so the nested pass ends there (it never walks the graph outside the call) and
// hands their gradients back to this record's inputs.
class StandIns final : public detail::ReadWatch {
 public:
  StandIns(const char* name, std::uint64_t first_seq) : name_(name), first_seq_(first_seq) {}

  void add(const Tensor& read, const Tensor& leaf) {
    stand_ins_.emplace_back(autograd_meta(read), leaf.impl().autograd);
  }
  // A leaf fn is given: the stand-in of an explicit input.
  void add_own(const Tensor& leaf) { own_.push_back(autograd_meta(leaf)); }

  void read_unrecorded(const OpSpec&) override {}

  const std::shared_ptr<AutogradMeta>& link(const char* op,
                                            const std::shared_ptr<AutogradMeta>& read) override {
    for (const auto& [outer, leaf] : stand_ins_) {
      if (outer == read.get()) return leaf;
    }
    const bool made_here = read->producer
                               ? read->producer->seq() >= first_seq_
                               : std::find(own_.begin(), own_.end(), read.get()) != own_.end();
    if (made_here) return read;
    throw_error<AutogradError>(
        "{}: recomputing fn in backward, {} read a tensor that requires grad which the forward "
        "pass did not read; fn must compute the same thing in both passes (the same tensors, "
        "no leaf made inside it)",
        name_, op);
  }

 private:
  const char* name_;
  std::uint64_t first_seq_;
  std::vector<std::pair<const AutogradMeta*, std::shared_ptr<AutogradMeta>>> stand_ins_;
  std::vector<const AutogradMeta*> own_;
};

// The default generator set to `state` for the life of this object, then put back.
class GeneratorReplay {
 public:
  explicit GeneratorReplay(const std::optional<Generator>& state) {
    if (!state) return;
    now_ = default_generator();
    default_generator() = *state;
  }
  ~GeneratorReplay() {
    if (now_) default_generator() = *now_;
  }
  GeneratorReplay(const GeneratorReplay&) = delete;
  GeneratorReplay& operator=(const GeneratorReplay&) = delete;

 private:
  std::optional<Generator> now_;
};

Grads Segment::backward(const BackwardContext& c) const {
  if (GradMode::enabled()) refuse_create_graph();
  const std::size_t count = c.input_count();
  if (opts.check_captured) {
    for (std::size_t i = explicit_inputs; i < count; ++i) {
      const CapturedReads::Reader& r = readers[i - explicit_inputs];
      opts.check_captured({c.saved(i), r.op, r.step});
    }
  }
  StandIns stand_ins(name, Tape::current().next_seq());
  std::vector<Tensor> args;
  std::vector<Tensor> wrt;
  std::vector<std::size_t> wrt_index;
  for (std::size_t i = 0; i < count; ++i) {
    const Tensor saved = c.saved(i);
    Tensor leaf = saved.detach();
    if (c.needs_input_grad(i)) {
      leaf.requires_grad_(true);
      wrt.push_back(leaf);
      wrt_index.push_back(i);
    }
    if (i < explicit_inputs) {
      stand_ins.add_own(leaf);
      args.push_back(std::move(leaf));
    } else {
      stand_ins.add(saved, leaf);
    }
  }
  std::vector<Tensor> outputs;
  {
    EnableGradGuard recording;
    detail::ReadWatchScope watching(stand_ins);
    GeneratorReplay replay(rng);
    outputs = fn(args);
  }
  if (outputs.size() != shapes.size()) {
    throw_error<AutogradError>("{}: fn returned {} tensors in the forward pass, {} recomputed",
                               name, shapes.size(), outputs.size());
  }
  std::vector<Tensor> roots;
  std::vector<Tensor> seeds;
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    if (outputs[k].shape() != shapes[k]) {
      throw_error<AutogradError>(
          "{}: fn's output {} had shape {} in the forward pass, {} recomputed", name, k, shapes[k],
          outputs[k].shape());
    }
    if (!needs_grad(outputs[k])) continue;  // depends on no input (e.g. a detached state)
    roots.push_back(outputs[k]);
    seeds.push_back(part(c.grad, k));
  }
  Grads grads(count);
  if (roots.empty()) return grads;
  const std::vector<Tensor> g = grad(roots, wrt, {.allow_unused = true}, seeds);
  for (std::size_t k = 0; k < g.size(); ++k) grads[wrt_index[k]] = g[k];
  return grads;
}

}  // namespace

std::vector<Tensor> checkpoint(CheckpointFn fn, const std::vector<Tensor>& inputs,
                               CheckpointOptions opts) {
  if (!fn) throw_error<ValueError>("{}: fn is empty", opts.name);
  if (!GradMode::enabled()) return fn(inputs);
  auto seg = std::make_shared<Segment>();
  seg->name = detail::intern_op_name(opts.name);
  seg->fn = std::move(fn);
  seg->opts = std::move(opts);
  if (seg->opts.preserve_rng_state) seg->rng = default_generator();
  std::vector<Tensor> plain;
  for (const Tensor& in : inputs) {
    check_defined(seg->name, in);
    plain.push_back(in.detach());
  }
  CapturedReads reads;
  std::vector<Tensor> outputs;
  {
    NoGradGuard unrecorded;
    detail::ReadWatchScope watching(reads);
    outputs = seg->fn(plain);
  }
  seg->lay_out(outputs);
  std::vector<Tensor> read = inputs;
  read.insert(read.end(), reads.tensors.begin(), reads.tensors.end());
  if (std::none_of(read.begin(), read.end(), [](const Tensor& t) { return needs_grad(t); })) {
    return outputs;  // nothing to differentiate
  }
  seg->explicit_inputs = inputs.size();
  seg->readers = std::move(reads.readers);
  const Tensor packed =
      record({.op = seg->name, .inputs = read, .save = read}, Segment::pack(outputs),
             [seg](const BackwardContext& c) { return seg->backward(c); });
  std::vector<Tensor> parts;
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    parts.push_back(record(
        {.op = "checkpoint_output", .inputs = {packed}}, seg->part(packed, k),
        [seg, k](const BackwardContext& c) -> Grads { return {seg->output_gradient(k, c.grad)}; }));
  }
  return parts;
}

}  // namespace tapegrad
