#include <check_gradients.hpp>

using namespace tg_test;

TEST_CASE("a chain of 100,000 ops backpropagates and is destroyed without recursion") {
  tg::Tensor x = tg::tensor({0.5}).requires_grad_();
  {
    tg::Tensor h = x;
    for (int i = 0; i < 100000; ++i) h = h * 1.0;
    h.backward();
    CHECK(x.grad().item() == 1.0);
  }
  {
    tg::Tensor h = x;
    for (int i = 0; i < 100000; ++i) h = h + 0.0;
  }  // destroyed here, unreferenced and never backpropagated
  CHECK(tg::Tape::current().size() < 10);
}

TEST_CASE("forward passes without backward keep memory bounded") {
  tg::Tensor w = tg::randn({16, 16}).requires_grad_();
  const tg::Tensor x = tg::randn({8, 16});
  auto forward = [&] { return tg::sum(tg::tanh(tg::matmul(x, w))); };
  // Dead records leave their small entry on the tape until about 1024 of them pile up and
  // the tape drops them; warm up past a few of those cycles.
  for (int i = 0; i < 3000; ++i) forward();
  const tg::MemoryStats before = tg::memory_stats();
  for (int i = 0; i < 10000; ++i) forward();
  const tg::MemoryStats after = tg::memory_stats();
  CHECK(after.bytes_in_use <= before.bytes_in_use + (1 << 20));
  CHECK(after.system_allocations == before.system_allocations);
  CHECK(tg::Tape::current().size() < 10);
}

TEST_CASE("a training step does no system allocation after warm-up") {
  tg::Tensor w = tg::randn({16, 16}).requires_grad_();
  const tg::Tensor x = tg::randn({8, 16});
  auto step = [&] {
    tg::Tensor loss = tg::mean(tg::square(tg::tanh(tg::matmul(x, w))));
    loss.backward();
    w.set_grad(tg::Tensor());
  };
  for (int i = 0; i < 500; ++i) step();  // past a few tape compactions (see above)
  const auto before = tg::memory_stats().system_allocations;
  for (int i = 0; i < 100; ++i) step();
  CHECK(tg::memory_stats().system_allocations == before);
}

TEST_CASE("an op that saves its own output does not keep itself alive") {
  // max with keepdim saves the tensor it returns; the record must hold it as a plain alias,
  // or output -> record -> output would leak the whole graph.
  const tg::Tensor x = tg::randn({4, 3}).requires_grad_();
  const std::size_t before = tg::Tape::current().size();
  {
    const tg::Tensor y = tg::max(x, {1}, true);
    REQUIRE(tg::Tape::current().size() == before + 1);
  }
  CHECK(tg::Tape::current().size() == before);
}
