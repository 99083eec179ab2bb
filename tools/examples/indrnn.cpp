// A recurrent cell of your own: IndRNN (Li et al. 2018, "Independently Recurrent Neural
// Network"), written as a tg::nn::Cell, its gradients checked, then trained.
//
//   h_t = relu(x_t W + u * h_{t-1} + b)      u a vector: each unit sees only its own past
//
//   tapegrad run tools/examples/indrnn.cpp -- --steps 50 --epochs 30
//
// Three parts, each what a researcher does with a new cell:
//   1. the cell: parameters, units(), step(); no backward anywhere, the tape records it;
//   2. tg::nn::gradcheck in f64: the tape's gradients against finite differences, through
//      the unrolled tg::nn::RNN, for the input and every parameter, in one call;
//   3. training in tg::nn::RNN on the adding problem (Hochreiter & Schmidhuber 1997): T
//      steps of (value ~ U[0,1], marker); exactly two markers are 1 (one in each half of the
//      sequence) and the target is the sum of the two marked values. Predicting the mean,
//      1, scores MSE = Var(U + U) = 1/6 = 0.167; a model must carry the first marked value
//      across T/2 steps or more to do better.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include <tapegrad/tapegrad.hpp>

namespace tg = tapegrad;

// ---------------------------------------------------------------------------------------
// 1. The cell
// ---------------------------------------------------------------------------------------

class IndRNNCell : public tg::nn::Cell {
 public:
  // Fresh weights. The recurrent weight u starts in [0, 1): below 1, so h cannot blow up
  // at the start, and spread out, so some units (u near 1) remember for many steps and
  // others forget quickly. Because u is a vector, |u_i| alone decides how a gradient grows
  // or vanishes over time in unit i: u_i^k after k steps (where relu is active), instead of
  // a product of matrices whose spectrum nobody controls.
  IndRNNCell(int64_t in_features, int64_t units, tg::DType dtype = tg::f32)
      : IndRNNCell(tg::nn::init::glorot_uniform({in_features, units}, dtype),
                   tg::nn::init::uniform({units}, 0.0, 1.0, dtype),
                   tg::nn::init::zeros({units}, dtype)) {}

  // Given weights, registered as they are (shared, not copied): how the gradient check
  // below starts from weights of its choosing, and how weights made elsewhere could be used.
  IndRNNCell(tg::Tensor w, tg::Tensor u, tg::Tensor b)
      : kernel(register_parameter("kernel", std::move(w))),
        recurrent_weight(register_parameter("recurrent_weight", std::move(u))),
        bias(register_parameter("bias", std::move(b))) {
    // Checked once here, so a mistake names this cell and the shapes instead of surfacing
    // as a broadcasting error deep inside the first step.
    const int64_t units = kernel.dim() == 2 ? kernel.shape()[1] : -1;
    if (units < 1 || recurrent_weight.shape() != tg::Shape{units} ||
        bias.shape() != tg::Shape{units}) {
      tg::throw_error<tg::ShapeError>(
          "IndRNNCell: kernel {} must be (in_features, units), recurrent_weight {} and bias {} "
          "must be (units)",
          kernel.shape(), recurrent_weight.shape(), bias.shape());
    }
  }

  int64_t units() const override { return kernel.shape()[1]; }

  // The input part does not depend on h, so RNN may compute it for all T steps as one
  // GEMM of (T*batch, in) x (in, units) before the loop; the loop then does only the cheap
  // elementwise part. It is what makes the built-in cells fast, and costs three lines.
  bool has_input_projection() const override { return true; }
  tg::Tensor project_inputs(const tg::Tensor& x) override { return tg::matmul(x, kernel) + bias; }
  tg::nn::State step_projected(const tg::Tensor& p_t, const tg::nn::State& state) override {
    return {tg::relu(p_t + recurrent_weight * state[0])};  // u * h: elementwise, broadcast
  }
  // The plain step, used when an RNN does not project first; by construction the same.
  tg::nn::State step(const tg::Tensor& x_t, const tg::nn::State& state) override {
    return step_projected(project_inputs(x_t), state);
  }

  std::string type_name() const override { return "IndRNNCell"; }

  tg::Tensor kernel;            // W (in_features, units)
  tg::Tensor recurrent_weight;  // u (units)
  tg::Tensor bias;              // b (units)
};

namespace {

// ---------------------------------------------------------------------------------------
// 2. The gradient check
// ---------------------------------------------------------------------------------------

// tg::nn::gradcheck takes the module itself: in f64 it compares the tape's gradients of a
// scalar of the module's output with finite differences, for the input AND every
// parameter, and a failure names the worst element by its dotted name
// ("cell.recurrent_weight[2] of RNN"). The whole unrolled RNN is checked, with
// return_sequences so every step's output counts, not only the last. Prints the report;
// true when the gradients are right.
bool gradients_are_right() {
  const int64_t batch = 2, steps = 5, features = 3, units = 4;
  const tg::Tensor x = tg::randn({batch, steps, features}, tg::f64);
  // The weights the check starts from (the second constructor). Random, nonzero biases:
  // with b = 0 and small inputs many pre-activations sit near relu's kink at 0, where a
  // finite difference straddles the kink and disagrees with any one-sided derivative. u up
  // to 1.2 > 1 also checks the growing regime. Drawn one by one: the order of a function's
  // arguments is unspecified, and the seed must give the same weights everywhere.
  const tg::Tensor w = tg::randn({features, units}, tg::f64);
  const tg::Tensor u = tg::rand({units}, tg::f64) * 1.2;
  const tg::Tensor b = tg::randn({units}, tg::f64) + 0.5;
  tg::nn::RNN layer(std::make_shared<IndRNNCell>(w, u, b), {.return_sequences = true});
  const tg::GradcheckReport report = tg::nn::gradcheck(layer, {x});
  std::vector<std::string> checked{"input x"};
  for (const auto& [name, p] : layer.named_parameters()) checked.push_back(name);
  // "ok", or the worst element: its name and index, analytic vs numeric.
  fmt::print("gradcheck (f64, RNN over IndRNNCell; {}): {}\n", fmt::join(checked, ", "),
             report.message);
  return report.ok;
}

// ---------------------------------------------------------------------------------------
// 3. Training on the adding problem
// ---------------------------------------------------------------------------------------

double mse(const tg::Tensor& prediction, const tg::Tensor& target) {
  return tg::mean((prediction - target) * (prediction - target)).item();
}

}  // namespace

int main(int argc, char** argv) {
  int64_t steps = 50;
  int epochs = 30;
  int64_t units = 64;
  int layers = 2;
  int64_t train_size = 2000;
  double lr = 5e-3;
  std::uint64_t seed = 0;
  tg::tools::ScriptArgs args("indrnn",
                             "An IndRNN cell of your own: its gradients checked, then trained on "
                             "the adding problem.");
  args.option("--steps", steps, "sequence length of the adding problem, even, >= 4")
      .value_name("T")
      .range(4, 100000)
      .check([](const int64_t& t) {
        // One marker in each half of the sequence.
        if (t % 2 != 0) throw tg::ValueError("the adding problem needs an even length");
      });
  args.option("--epochs", epochs, "epochs to train").range(1, 100000);
  args.option("--units", units, "units per IndRNN layer").range(1, 4096);
  args.option("--layers", layers, "IndRNN layers").range(1, 16);
  args.option("--train", train_size, "training sequences; the test set is a quarter of it")
      .range(8, 10000000);
  args.option("--lr", lr, "Adam's initial learning rate").range(1e-9, 10.0);
  args.option("--seed", seed, "seed of the data, the initial weights and the batch order");
  if (const auto exit_code = args.parse(argc, argv)) return *exit_code;
  tg::manual_seed(seed);

  if (!gradients_are_right()) return 1;  // training a cell with wrong gradients proves nothing

  std::mt19937_64 gen(seed);
  const tg::data::Dataset train = tg::data::adding_problem(train_size, steps, gen);
  const tg::data::Dataset test =
      tg::data::adding_problem(std::max<int64_t>(train_size / 4, 1), steps, gen);

  // Two layers: one relu unit must otherwise both pick the marked value
  // (a threshold on value + marker) and add it up over time. Measured here: one layer of 32
  // units stayed near the baseline (MSE 0.14) after 50 epochs; two layers went below 0.01.
  tg::nn::Sequential model;
  for (int layer = 0; layer < layers; ++layer) {
    const bool last = layer + 1 == layers;
    model.push_back(tg::nn::RNN(std::make_shared<IndRNNCell>(layer == 0 ? 2 : units, units),
                                {.return_sequences = !last}));
  }
  model.push_back(tg::nn::Dense(units, 1));
  tg::nn::MSE loss_fn;
  // clipnorm guards against a rare huge step: relu does not saturate, so with u near 1 an
  // early h, and its gradient, can grow over many steps. The cosine schedule takes the lr
  // from 5e-3 down to 0 over the run: at a constant 3e-3 (T = 100) the loss still jumped
  // by 2-3x from epoch to epoch at the end, and the last epoch decided the result.
  tg::optim::Adam opt(model.parameters(), {.lr = lr, .clipnorm = 1.0});
  tg::nn::fit(model, loss_fn, opt, train.X, train.y,
              {.epochs = epochs,
               .batch_size = 50,
               .callbacks = {std::make_shared<tg::nn::ScheduleCallback>(
                   std::make_shared<tg::optim::CosineLR>(opt, epochs))},
               .verbose = 2});

  const double model_mse = mse(tg::nn::predict(model, test.X), test.y);
  // The best constant: the training targets' mean (close to 1).
  const double train_mean = tg::mean(train.y).item();
  const double baseline_mse = mse(tg::full(test.y.shape(), train_mean), test.y);
  fmt::print(
      "adding problem, T = {}: test MSE {:.3g}, predict-the-mean baseline {:.3g} ({:.0f}x "
      "lower)\n",
      steps, model_mse, baseline_mse, baseline_mse / model_mse);
  if (!(model_mse < 0.5 * baseline_mse)) {
    fmt::print(stderr,
               "indrnn: the model did not clearly beat the baseline; train longer "
               "(--epochs) or on more data (--train)\n");
    return 1;
  }
  return 0;
}
