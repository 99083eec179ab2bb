// Parity with PyTorch (Keras formulations): same weights and inputs, then outputs and every
// parameter gradient against the committed fixtures. f32 within 1e-5 relative, f64 1e-10.
#include <doctest/doctest.h>

#include <fixture.hpp>

using namespace tg_test;

namespace {

enum class Kind { rnn, lstm, gru };

tg::nn::Sequential make_stack(Kind kind, int64_t in, int64_t u0, int64_t u1, tg::DType dtype) {
  const tg::nn::RNNOptions seq{.return_sequences = true};
  switch (kind) {
    case Kind::rnn:
      return tg::nn::Sequential{tg::nn::SimpleRNN(in, u0, seq, dtype),
                                tg::nn::SimpleRNN(u0, u1, {}, dtype),
                                tg::nn::Dense(u1, 1, {.dtype = dtype})};
    case Kind::lstm:
      return tg::nn::Sequential{tg::nn::LSTM(in, u0, seq, dtype), tg::nn::LSTM(u0, u1, {}, dtype),
                                tg::nn::Dense(u1, 1, {.dtype = dtype})};
    case Kind::gru:
      return tg::nn::Sequential{tg::nn::GRU(in, u0, seq, dtype), tg::nn::GRU(u0, u1, {}, dtype),
                                tg::nn::Dense(u1, 1, {.dtype = dtype})};
  }
  throw std::logic_error("unknown kind");
}

void check_parity(const std::string& file, Kind kind, tg::DType dtype, double tolerance) {
  const nlohmann::json f = load_fixture(file);
  const tg::Tensor x = fixture_tensor(f["inputs"]["x"], dtype);
  const tg::Tensor y = fixture_tensor(f["inputs"]["y"], dtype);
  const auto& params = f["parameters"];
  const int64_t u0 = params["0.cell.recurrent_kernel"]["shape"][0];
  const int64_t u1 = params["1.cell.recurrent_kernel"]["shape"][0];
  tg::nn::Sequential model = make_stack(kind, x.shape()[2], u0, u1, dtype);
  load_parameters(model, params);

  const tg::Tensor prediction = model(x);
  const tg::Tensor loss = tg::mean(tg::square(prediction - y));
  loss.backward();
  CAPTURE(file);
  const double prediction_error =
      max_rel_error(prediction, fixture_tensor(f["outputs"]["prediction"], dtype));
  CHECK(prediction_error < tolerance);
  CHECK(std::abs(loss.item() - f["outputs"]["loss"].get<double>()) <
        tolerance * std::abs(f["outputs"]["loss"].get<double>()));
  double gradient_error = 0;
  for (const auto& [name, p] : model.named_parameters()) {
    CAPTURE(name);
    REQUIRE(p.grad().defined());
    const double error = max_rel_error(p.grad(), fixture_tensor(f["gradients"][name], dtype));
    CHECK(error < tolerance);
    gradient_error = std::max(gradient_error, error);
  }
  // The margin under the tolerance, for the record.
  MESSAGE(file << ": max relative error, prediction " << prediction_error << ", gradients "
               << gradient_error);
}

}  // namespace

TEST_CASE("reference stack SimpleRNN(64, seq) -> SimpleRNN(32) -> Dense(1) matches PyTorch") {
  check_parity("reference_rnn_f64.json", Kind::rnn, tg::f64, 1e-10);
  check_parity("reference_rnn_f32.json", Kind::rnn, tg::f32, 1e-5);
}

TEST_CASE("LSTM stack matches PyTorch") {
  check_parity("lstm_f64.json", Kind::lstm, tg::f64, 1e-10);
  check_parity("lstm_f32.json", Kind::lstm, tg::f32, 1e-5);
}

TEST_CASE("GRU stack (reset_after, Keras gate order) matches PyTorch") {
  check_parity("gru_f64.json", Kind::gru, tg::f64, 1e-10);
  check_parity("gru_f32.json", Kind::gru, tg::f32, 1e-5);
}
