// Where a recurrent layer's outputs live: time-major storage, (B, T, units) as a view.
#include <check_gradients.hpp>

using namespace tg_test;

TEST_CASE(
    "return_sequences: a (B, T, units) view of time-major storage, read back without a copy") {
  tg::manual_seed(31);
  for (const int64_t every : {int64_t{0}, int64_t{2}}) {
    CAPTURE(every);
    tg::nn::SimpleRNN layer(3, 5, {.return_sequences = true, .checkpoint_every = every});
    const tg::Tensor out = layer(tg::randn({2, 4, 3}));
    CHECK(out.shape() == tg::Shape{2, 4, 5});
    CHECK(out.strides() == tg::Shape{5, 10, 1});  // step t's rows are contiguous
    // A layer above takes it time-major as it lies: the permute back is contiguous.
    CHECK(tg::permute(out, {1, 0, 2}).is_contiguous());
  }
}
