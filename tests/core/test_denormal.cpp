// Denormals are flushed to zero inside tapegrad's backward passes (and RNN calls), by a
// scope that restores the caller's floating-point mode; set_flush_denormal(false) keeps them.
#include <limits>

#include <doctest/doctest.h>

#include <tapegrad/tapegrad.hpp>

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

namespace tg = tapegrad;

namespace {

// A subnormal f32: a tenth of the smallest normal float.
constexpr float kSubnormal = std::numeric_limits<float>::min() / 10;

// d(x * c)/dx = c: the engine's rule multiplies the seed by the subnormal c.
float gradient_through_subnormal() {
  tg::Tensor x = tg::tensor({1.f}).requires_grad_(true);
  tg::Tensor c = tg::tensor({kSubnormal});
  tg::backward({tg::sum(x * c)});
  return x.grad().to_vector<float>()[0];
}

// Restores the process-wide setting whatever a test case does.
struct SettingRestore {
  bool saved = tg::flush_denormal();
  ~SettingRestore() { tg::set_flush_denormal(saved); }
};

}  // namespace

#if defined(__SSE2__)

TEST_CASE("flush_denormal: on by default, and backward flushes a subnormal gradient to zero") {
  const SettingRestore restore;
  CHECK(tg::flush_denormal());
  CHECK(gradient_through_subnormal() == 0.f);
}

TEST_CASE("set_flush_denormal(false): backward keeps the subnormal gradient") {
  const SettingRestore restore;
  CHECK(tg::set_flush_denormal(false));
  CHECK_FALSE(tg::flush_denormal());
  CHECK(gradient_through_subnormal() == kSubnormal);
}

TEST_CASE(
    "the worker threads of a split GEMM flush too: no row of a 2-thread GEMM keeps a subnormal") {
  // Each product 1e-42 is subnormal, and so is their sum 2.6e-40. A GEMM this size is split
  // between the threads; a worker that did not flush left its share subnormal.
  const SettingRestore restore;
  const int threads = tg::num_threads();
  tg::set_num_threads(2);
  const tg::Tensor a = tg::full({512, 256}, 1e-21);
  const tg::Tensor b = tg::full({256, 512}, 1e-21);
  const auto product = [&] {
    const tg::FlushDenormalScope scope;
    return tg::kernel::matmul(a, b);
  };
  CHECK(tg::max(product()).item() == 0.0);
  tg::set_flush_denormal(false);  // and back: the workers keep every subnormal result
  CHECK(-tg::max(-product()).item() > 0.0);
  tg::set_flush_denormal(true);
  CHECK(tg::max(product()).item() == 0.0);
  tg::set_num_threads(threads);
}

TEST_CASE("FlushDenormalScope restores the caller's mode, also after backward") {
  const SettingRestore restore;
  tg::set_flush_denormal(true);
  const unsigned before = _mm_getcsr();
  {
    const tg::FlushDenormalScope scope;
    CHECK(_mm_getcsr() != before);
    volatile float tiny = kSubnormal;
    CHECK(tiny * 1.f == 0.f);  // denormals-are-zero: the input reads as 0
  }
  CHECK(_mm_getcsr() == before);
  (void)gradient_through_subnormal();
  CHECK(_mm_getcsr() == before);
  volatile float tiny = kSubnormal;
  CHECK(tiny * 1.f == kSubnormal);  // outside the scope, IEEE arithmetic as before
}

TEST_CASE("an RNN call leaves the caller's floating-point mode as it was") {
  const unsigned before = _mm_getcsr();
  tg::nn::SimpleRNN layer(2, 3);
  tg::backward({tg::sum(layer(tg::randn({2, 4, 2})))});
  CHECK(_mm_getcsr() == before);
}

#else

TEST_CASE("set_flush_denormal: unsupported on this CPU, changes nothing") {
  CHECK_FALSE(tg::set_flush_denormal(true));
  CHECK_FALSE(tg::flush_denormal());
}

#endif
