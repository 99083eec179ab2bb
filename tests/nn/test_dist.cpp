// broadcast_parameters in a world of one: the model keeps its weights. tests/mpi runs it on
// 2 and 3 ranks, with a mismatched model on one of them.
#include <doctest/doctest.h>

#include <test_util.hpp>

#include <tapegrad/tapegrad.hpp>

namespace tg = tapegrad;

TEST_CASE("dist: broadcast_parameters leaves the model as it is in a world of one") {
  tg::nn::Sequential model{tg::nn::SimpleRNN(1, 4), tg::nn::Dense(4, 1)};
  const tg::Tensor kernel = model.named_parameters().front().second;
  const std::vector<float> before = kernel.to_vector<float>();
  tg::dist::broadcast_parameters(model);
  CHECK(kernel.to_vector<float>() == before);
}

TEST_CASE("dist: broadcast_parameters refuses a root outside the world") {
  tg::nn::Dense model(2, 3);
  CHECK(tg_test::message_of<tg::ValueError>([&] { tg::dist::broadcast_parameters(model, 2); }) ==
        "dist::broadcast_parameters: root 2 is not a rank of this world of 1 (0..0)");
}
