// kernel::matmul against a naive triple loop in double, for every way an operand can lie in
// memory: dense, transposed view, sub-matrix with a larger leading dimension, a view with no
// contiguous axis, and the batched and folded forms.
#include <doctest/doctest.h>

#include <cmath>
#include <csignal>
#include <cstdlib>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

#include <tapegrad/core/large_gemm.hpp>
#include <tapegrad/core/small_gemm.hpp>

#include "reference.hpp"

namespace tg = tapegrad;
namespace k = tapegrad::kernel;
using tgtest::at;

namespace {

// How an (r, c) operand is laid out in memory; every variant holds the same values.
enum class Op { dense, transposed, submatrix, submatrix_transposed, no_unit_stride };
const char* op_name(Op o) {
  switch (o) {
    case Op::dense:
      return "dense";
    case Op::transposed:
      return "transposed";
    case Op::submatrix:
      return "submatrix";
    case Op::submatrix_transposed:
      return "submatrix_transposed";
    case Op::no_unit_stride:
      return "no_unit_stride";
  }
  return "?";
}
const Op kOps[] = {Op::dense, Op::transposed, Op::submatrix, Op::submatrix_transposed,
                   Op::no_unit_stride};

tg::Tensor operand(int64_t r, int64_t c, tg::DType dtype, int64_t salt, Op op) {
  const tg::Tensor src = tgtest::dense({r, c}, dtype, salt);
  tg::Tensor view;
  switch (op) {
    case Op::dense:
      return src;
    case Op::transposed:  // (c, r) storage, transposed: column-major
      view = k::transpose(tg::empty({c, r}, dtype), 0, 1);
      break;
    case Op::submatrix:  // rows of a wider matrix, leading dimension c + 5, with an offset
      view = k::slice(k::slice(tg::full({r + 2, c + 5}, 7.0, dtype), 0, 1, r + 1), 1, 3, c + 3);
      break;
    case Op::submatrix_transposed:
      view = k::transpose(
          k::slice(k::slice(tg::full({c + 3, r + 4}, 7.0, dtype), 0, 2, c + 2), 1, 1, r + 1), 0, 1);
      break;
    case Op::no_unit_stride:  // every other element in both axes
      view =
          k::slice(k::slice(tg::full({2 * r, 2 * c}, 7.0, dtype), 0, 0, 2 * r, 2), 1, 1, 2 * c, 2);
      break;
  }
  k::copy_into(view, src);
  return view;
}

// Naive (M, K) @ (K, N) in double, read through strides.
template <class T>
std::vector<double> naive(const tg::Tensor& a, const tg::Tensor& b) {
  const int64_t m = a.shape()[0], kk = a.shape()[1], n = b.shape()[1];
  std::vector<double> c(m * n, 0.0);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (int64_t p = 0; p < kk; ++p) acc += double(at<T>(a, {i, p})) * double(at<T>(b, {p, j}));
      c[i * n + j] = acc;
    }
  }
  return c;
}

template <class T>
void expect_close(const tg::Tensor& got, const std::vector<double>& want, int64_t kk) {
  REQUIRE(got.numel() == static_cast<int64_t>(want.size()));
  const std::vector<T> g = got.template to_vector<T>();
  const double tol = (std::is_same_v<T, float> ? 1e-5 : 1e-13) * 4.0 * std::max<int64_t>(kk, 1);
  int64_t bad = 0;
  for (std::size_t i = 0; i < want.size(); ++i) bad += !(std::abs(g[i] - want[i]) <= tol);
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE("matmul: 2-D against a naive loop, every layout combination, f32 and f64") {
  // f32 products go through libxsmm's kernels where one serves, else OpenBLAS: both, here.
  const int64_t sizes[][3] = {{5, 7, 3}, {1, 4, 6},   {6, 1, 2},
                              {4, 5, 1}, {17, 9, 13}, {32, 64, 64}};
  for (const bool small_gemm : {true, false}) {
    CAPTURE(small_gemm);
    k::detail::set_small_gemm_enabled(small_gemm);
    for (tg::DType dtype : {tg::f32, tg::f64}) {
      for (const auto& s : sizes) {
        for (Op oa : kOps) {
          for (Op ob : kOps) {
            const tg::Tensor a = operand(s[0], s[1], dtype, 1, oa);
            const tg::Tensor b = operand(s[1], s[2], dtype, 2, ob);
            CAPTURE(dtype);
            CAPTURE(s[0]);
            CAPTURE(s[1]);
            CAPTURE(s[2]);
            CAPTURE(std::string(op_name(oa)));
            CAPTURE(std::string(op_name(ob)));
            const tg::Tensor c = k::matmul(a, b);
            REQUIRE(c.shape() == tg::Shape{s[0], s[2]});
            REQUIRE(c.is_contiguous());
            tg::dispatch(dtype, [&]<class T>(T) { expect_close<T>(c, naive<T>(a, b), s[1]); });
          }
        }
      }
    }
  }
  k::detail::set_small_gemm_enabled(true);
}

TEST_CASE("matmul_add_into: libxsmm's kernels and OpenBLAS add the same product") {
  for (const bool small_gemm : {true, false}) {
    CAPTURE(small_gemm);
    k::detail::set_small_gemm_enabled(small_gemm);
    const tg::Tensor a = operand(32, 64, tg::f32, 1, Op::transposed);
    const tg::Tensor b = operand(64, 48, tg::f32, 2, Op::dense);
    const tg::Tensor out = tgtest::dense({32, 48}, tg::f32, 3);
    std::vector<double> want = naive<float>(a, b);
    const std::vector<float> before = out.to_vector<float>();
    for (std::size_t i = 0; i < want.size(); ++i) want[i] += before[i];
    k::matmul_add_into(out, a, b);
    expect_close<float>(out, want, 64);
  }
  k::detail::set_small_gemm_enabled(true);
}

// Products core/blas.cpp splits over 2 threads (from 64x256x256 multiply-adds and a depth of
// 32): by rows (more rows than columns, an odd count so the bands differ in width) and by
// columns.
const int64_t kSplitSizes[][3] = {{301, 64, 224}, {16, 520, 520}};

TEST_CASE("matmul: split over 2 threads in bands of rows or of columns, every layout") {
  // A band's kernel may sum in another order than the whole product's, so the two agree to
  // rounding, as both do with the naive loop. Every layout holds the same values, so one
  // naive product serves them all.
  const int threads = tg::num_threads();
  for (const auto& s : kSplitSizes) {
    REQUIRE(s[0] * s[1] * s[2] >= int64_t{64} * 256 * 256);
    for (tg::DType dtype : {tg::f32, tg::f64}) {
      std::vector<double> want;
      tg::dispatch(dtype, [&]<class T>(T) {
        want = naive<T>(operand(s[0], s[1], dtype, 1, Op::dense),
                        operand(s[1], s[2], dtype, 2, Op::dense));
      });
      for (const bool small_gemm : {true, false}) {
        k::detail::set_small_gemm_enabled(small_gemm);
        for (Op oa : {Op::dense, Op::transposed, Op::submatrix_transposed}) {
          for (Op ob : {Op::dense, Op::transposed, Op::submatrix}) {
            CAPTURE(small_gemm);
            CAPTURE(dtype);
            CAPTURE(s[0]);
            CAPTURE(std::string(op_name(oa)));
            CAPTURE(std::string(op_name(ob)));
            const tg::Tensor a = operand(s[0], s[1], dtype, 1, oa);
            const tg::Tensor b = operand(s[1], s[2], dtype, 2, ob);
            tg::set_num_threads(1);
            const tg::Tensor one = k::matmul(a, b);
            tg::set_num_threads(2);
            const tg::Tensor two = k::matmul(a, b);
            tg::dispatch(dtype, [&]<class T>(T) {
              expect_close<T>(one, want, s[1]);
              expect_close<T>(two, want, s[1]);
            });
          }
        }
      }
    }
  }
  tg::set_num_threads(threads);
  k::detail::set_small_gemm_enabled(true);
}

TEST_CASE("matmul: a forked child splits products without its parent's workers") {
  // The parent's pool has a worker (a split product ran); a child of fork() has only the
  // thread that forked, so its split products must run every band itself, not wait for a
  // worker that is not there. The parent waits a bounded time.
  const int threads = tg::num_threads();
  tg::set_num_threads(2);
  const auto& s = kSplitSizes[0];
  const tg::Tensor a = operand(s[0], s[1], tg::f32, 1, Op::dense);
  const tg::Tensor b = operand(s[1], s[2], tg::f32, 2, Op::transposed);
  const std::vector<float> parent = k::matmul(a, b).to_vector<float>();
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    const bool same = k::matmul(a, b).to_vector<float>() == parent;
    ::_exit(same ? 0 : 1);
  }
  int status = 0;
  pid_t done = 0;
  for (int i = 0; i < 600 && done == 0; ++i) {  // 60 s
    done = ::waitpid(child, &status, WNOHANG);
    if (done == 0) ::usleep(100 * 1000);
  }
  if (done == 0) {
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
  }
  tg::set_num_threads(threads);
  CHECK(done == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("matmul: large f32 products through oneDNN, on 1 and 2 threads, every layout") {
  // Above oneDNN's threshold (2^25 multiply-adds), and an 8x300x300 product whose transposed
  // right operand is too large for libxsmm's copy, so that oneDNN takes it whatever its size.
  // Each is compared with OpenBLAS's product (both JIT paths off), to rounding: a naive loop
  // over 2^25 terms per layout would dominate the suite.
  const int64_t sizes[][3] = {{256, 512, 256}, {8, 300, 300}};
  const int threads = tg::num_threads();
  for (const auto& s : sizes) {
    REQUIRE((s[0] * s[1] * s[2] >= (int64_t{1} << 25) || s[1] * s[2] > 256 * 256));
    for (Op oa : {Op::dense, Op::transposed, Op::submatrix_transposed}) {
      for (Op ob : {Op::dense, Op::transposed, Op::submatrix}) {
        CAPTURE(s[0]);
        CAPTURE(std::string(op_name(oa)));
        CAPTURE(std::string(op_name(ob)));
        const tg::Tensor a = operand(s[0], s[1], tg::f32, 1, oa);
        const tg::Tensor b = operand(s[1], s[2], tg::f32, 2, ob);
        k::detail::set_large_gemm_enabled(false);
        k::detail::set_small_gemm_enabled(false);
        const std::vector<float> blas = k::matmul(a, b).to_vector<float>();
        k::detail::set_large_gemm_enabled(true);
        k::detail::set_small_gemm_enabled(true);
        for (const int n : {1, 2}) {
          CAPTURE(n);
          tg::set_num_threads(n);
          const std::vector<float> got = k::matmul(a, b).to_vector<float>();
          const double tol = 1e-5 * 4.0 * static_cast<double>(s[1]);
          int64_t bad = 0;
          for (std::size_t i = 0; i < got.size(); ++i) bad += !(std::abs(got[i] - blas[i]) <= tol);
          CHECK(bad == 0);
        }
      }
    }
  }
  tg::set_num_threads(threads);
}

TEST_CASE("matmul: the libraries are named, with the instruction set they run") {
  CHECK(k::detail::large_gemm_library().rfind("oneDNN ", 0) == 0);
  CHECK(k::detail::small_gemm_library().rfind("libxsmm ", 0) == 0);
  // The ctest core_avx2_kernels runs this suite with both libraries held to AVX2 (what a CPU
  // without AVX-512 gets): the names say the limit took effect.
  const char* isa = std::getenv("DNNL_MAX_CPU_ISA");
  if (isa != nullptr && std::string(isa) == "AVX2") {
    CHECK(k::detail::large_gemm_library().ends_with("(avx2)"));
    CHECK(k::detail::small_gemm_library().ends_with("(hsw)"));
  }
  k::detail::set_large_gemm_enabled(false);
  CHECK(k::detail::large_gemm_library() == "oneDNN off");
  CHECK_FALSE(k::detail::large_sgemm(false, false, 1, 1, 1, nullptr, 1, nullptr, 1, 0, nullptr, 1));
  k::detail::set_large_gemm_enabled(true);
}

TEST_CASE("matmul: operands are not modified") {
  const tg::Tensor a = operand(5, 7, tg::f32, 1, Op::no_unit_stride);
  const tg::Tensor b = operand(7, 3, tg::f32, 2, Op::transposed);
  const auto va = a.to_vector<float>();
  const auto vb = b.to_vector<float>();
  const auto version = a.version();
  k::matmul(a, b);
  CHECK(a.to_vector<float>() == va);
  CHECK(b.to_vector<float>() == vb);
  CHECK(a.version() == version);
}

TEST_CASE("matmul: broadcast operands (stride 0) and single rows/columns") {
  // (1, K) from broadcasting a vector: stride 0 on the row axis.
  const tg::Tensor v = tgtest::dense({6}, tg::f64, 3);
  const tg::Tensor row = k::broadcast_to(v, {1, 6});
  const tg::Tensor full_rows = k::broadcast_to(v, {4, 6});  // every row the same
  const tg::Tensor b = tgtest::dense({6, 3}, tg::f64, 4);
  expect_close<double>(k::matmul(row, b), naive<double>(row, b), 6);
  expect_close<double>(k::matmul(full_rows, b), naive<double>(full_rows, b), 6);
  const tg::Tensor col = k::broadcast_to(k::unsqueeze(tgtest::dense({6}, tg::f64, 5), 1), {6, 2});
  expect_close<double>(k::matmul(b.contiguous().to(tg::f64), k::slice(col, 0, 0, 3)),
                       naive<double>(b, k::slice(col, 0, 0, 3)), 3);
}

TEST_CASE("matmul: (B, T, F) @ (F, H) folds the leading axes") {
  for (tg::DType dtype : {tg::f32, tg::f64}) {
    for (bool permuted : {false, true}) {
      tg::Tensor x = tgtest::dense({3, 4, 5}, dtype, 6);
      if (permuted) {  // (T, B, F) storage seen as (B, T, F): not foldable without a copy
        tg::Tensor storage = tg::empty({4, 3, 5}, dtype);
        tg::Tensor view = k::transpose(storage, 0, 1);
        k::copy_into(view, x);
        x = view;
      }
      for (Op ob : kOps) {
        CAPTURE(permuted);
        CAPTURE(std::string(op_name(ob)));
        const tg::Tensor w = operand(5, 2, dtype, 7, ob);
        const tg::Tensor y = k::matmul(x, w);
        REQUIRE(y.shape() == tg::Shape{3, 4, 2});
        tg::dispatch(dtype, [&]<class T>(T) {
          for (int64_t bi = 0; bi < 3; ++bi) {
            const tg::Tensor xb = k::select(x, 0, bi);
            expect_close<T>(k::select(y, 0, bi).contiguous(), naive<T>(xb, w), 5);
          }
        });
      }
    }
  }
  // Rank 4 on the left folds too.
  const tg::Tensor x4 = tgtest::dense({2, 3, 4, 5}, tg::f32, 8);
  const tg::Tensor w = tgtest::dense({5, 6}, tg::f32, 9);
  const tg::Tensor y4 = k::matmul(x4, w);
  CHECK(y4.shape() == tg::Shape{2, 3, 4, 6});
  expect_close<float>(y4, naive<float>(k::reshape(x4, {24, 5}), w), 5);
}

TEST_CASE("matmul: (B, M, K) @ (B, K, N) runs one GEMM per batch") {
  for (tg::DType dtype : {tg::f32, tg::f64}) {
    const tg::Tensor a = tgtest::dense({3, 4, 5}, dtype, 10);
    const tg::Tensor b = tgtest::dense({3, 5, 2}, dtype, 11);
    // b as a transposed view of (3, 2, 5) storage; a with every other batch of a bigger one.
    tg::Tensor bt = k::transpose(tg::empty({3, 2, 5}, dtype), 1, 2);
    k::copy_into(bt, b);
    tg::Tensor as = k::slice(tg::zeros({6, 4, 5}, dtype), 0, 0, 6, 2);
    k::copy_into(as, a);
    for (const auto& [lhs, rhs] : {std::pair{a, b}, std::pair{as, bt}, std::pair{a, bt}}) {
      const tg::Tensor c = k::matmul(lhs, rhs);
      REQUIRE(c.shape() == tg::Shape{3, 4, 2});
      tg::dispatch(dtype, [&]<class T>(T) {
        for (int64_t i = 0; i < 3; ++i) {
          expect_close<T>(k::select(c, 0, i).contiguous(),
                          naive<T>(k::select(lhs, 0, i), k::select(rhs, 0, i)), 5);
        }
      });
    }
  }
}

TEST_CASE("matmul: empty extents") {
  CHECK(k::matmul(tg::ones({0, 3}), tg::ones({3, 4})).shape() == tg::Shape{0, 4});
  const tg::Tensor z = k::matmul(tg::ones({2, 0}), tg::ones({0, 3}));
  CHECK(z.to_vector<float>() == std::vector<float>(6, 0.f));
}
