// Elementwise kernels. Every one is a functor run by map_unary / map_binary / where; those
// take a dense fast path (a flat loop the compiler vectorizes) and fall back to the strided
// loop for views and broadcasting. The loops run through vectorized() (core/vectorize.hpp),
// at AVX2 width where the CPU has it: the adds, copies and products of an RNN's backward
// pass are a fifth of the reference workload.
#include <cmath>

#include <tapegrad/core/kernels.hpp>
#include <tapegrad/core/strided_loop.hpp>
#include <tapegrad/core/vectorize.hpp>
#include <tapegrad/core/vmath.hpp>

namespace tapegrad::kernel {
namespace {

using detail::broadcast_strides;
using detail::for_each_strided;
using detail::vectorized;

template <class T, class F>
void strided_unary(const Tensor& x, const Tensor& out, F f) {
  std::array<Shape, 2> strides{out.strides(), x.strides()};
  for_each_strided<T, 2>(out.shape(), strides, {out.data<T>(), x.data<T>()},
                         [&](int64_t n, std::array<T*, 2> p, std::array<int64_t, 2> s) {
                           for (int64_t i = 0; i < n; ++i) p[0][i * s[0]] = f(p[1][i * s[1]]);
                         });
}

// f is applied per element; `Scalar` functors get a T and return a T.
template <class F>
Tensor map_unary(const Tensor& x, F f) {
  Tensor out = empty(x.shape(), x.dtype());
  dispatch(x.dtype(), [&]<class T>(T) {
    if (x.is_contiguous()) {
      const T* in = x.data<T>();
      T* o = out.data<T>();
      const int64_t n = x.numel();
      vectorized([&] {
        for (int64_t i = 0; i < n; ++i) o[i] = f(in[i]);
      });
    } else {
      strided_unary<T>(x, out, f);
    }
  });
  return out;
}

// For the transcendentals that have a vectorized array routine in vmath.
template <class VecFn>
Tensor map_vmath(const Tensor& x, VecFn vec) {
  const Tensor dense = x.contiguous();
  Tensor out = empty(x.shape(), x.dtype());
  dispatch(x.dtype(), [&]<class T>(T) { vec(dense.data<T>(), out.data<T>(), x.numel()); });
  return out;
}

template <class F>
Tensor map_binary(const Tensor& a, const Tensor& b, const char* op, F f) {
  check_same_dtype(op, a, b);
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  Tensor out = empty(shape, a.dtype());
  dispatch(a.dtype(), [&]<class T>(T) {
    T* o = out.data<T>();
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    const int64_t n = out.numel();
    const bool dense_a = a.is_contiguous() && a.numel() == n;
    const bool dense_b = b.is_contiguous() && b.numel() == n;
    if (dense_a && dense_b) {
      vectorized([&] {
        for (int64_t i = 0; i < n; ++i) o[i] = f(pa[i], pb[i]);
      });
    } else if (dense_a && b.numel() == 1) {
      const T sb = *pb;
      vectorized([&] {
        for (int64_t i = 0; i < n; ++i) o[i] = f(pa[i], sb);
      });
    } else if (a.numel() == 1 && dense_b) {
      const T sa = *pa;
      vectorized([&] {
        for (int64_t i = 0; i < n; ++i) o[i] = f(sa, pb[i]);
      });
    } else {
      std::array<Shape, 3> strides{out.strides(), broadcast_strides(a.shape(), a.strides(), shape),
                                   broadcast_strides(b.shape(), b.strides(), shape)};
      for_each_strided<T, 3>(shape, strides, {o, const_cast<T*>(pa), const_cast<T*>(pb)},
                             [&](int64_t len, std::array<T*, 3> p, std::array<int64_t, 3> s) {
                               if (s[0] == 1 && s[1] == 1 && s[2] == 1) {
                                 vectorized([&] {
                                   for (int64_t i = 0; i < len; ++i) {
                                     p[0][i] = f(p[1][i], p[2][i]);
                                   }
                                 });
                               } else {
                                 for (int64_t i = 0; i < len; ++i) {
                                   p[0][i * s[0]] = f(p[1][i * s[1]], p[2][i * s[2]]);
                                 }
                               }
                             });
    }
  });
  return out;
}

Tensor scalar_like(const Tensor& t, double s) {
  return scalar_tensor(s, t.dtype());
}

}  // namespace

Tensor neg(const Tensor& x) {
  return map_unary(x, [](auto v) { return -v; });
}
Tensor exp(const Tensor& x) {
  return map_vmath(x, [](auto* in, auto* out, int64_t n) { vmath::exp(in, out, n); });
}
Tensor log(const Tensor& x) {
  return map_vmath(x, [](auto* in, auto* out, int64_t n) { vmath::log(in, out, n); });
}
Tensor tanh(const Tensor& x) {
  return map_vmath(x, [](auto* in, auto* out, int64_t n) { vmath::tanh(in, out, n); });
}
Tensor sigmoid(const Tensor& x) {
  return map_vmath(x, [](auto* in, auto* out, int64_t n) { vmath::sigmoid(in, out, n); });
}
Tensor sqrt(const Tensor& x) {
  return map_vmath(x, [](auto* in, auto* out, int64_t n) { vmath::sqrt(in, out, n); });
}
Tensor abs(const Tensor& x) {
  return map_unary(x, [](auto v) { return std::abs(v); });
}
Tensor sign(const Tensor& x) {
  return map_unary(x, [](auto v) { return static_cast<decltype(v)>((v > 0) - (v < 0)); });
}
Tensor relu(const Tensor& x) {
  return map_unary(x, [](auto v) { return v > 0 ? v : decltype(v){0}; });
}
Tensor clamp(const Tensor& x, double lo, double hi) {
  if (lo > hi) throw_error<ValueError>("clamp: lower bound {} exceeds upper bound {}", lo, hi);
  // Two plain selects on bounds already in T vectorize (a max and a min); NaN stays NaN.
  return dispatch(x.dtype(), [&]<class T>(T) {
    const T l = static_cast<T>(lo), h = static_cast<T>(hi);
    return map_unary(x, [l, h](T v) {
      const T r = v < l ? l : v;
      return r > h ? h : r;
    });
  });
}
Tensor pow(const Tensor& x, double exponent) {
  if (exponent == 2.0) return map_unary(x, [](auto v) { return v * v; });
  return map_unary(x, [exponent](auto v) { return std::pow(v, decltype(v)(exponent)); });
}

Tensor add(const Tensor& a, const Tensor& b) {
  return map_binary(a, b, "add", [](auto x, auto y) { return x + y; });
}
Tensor sub(const Tensor& a, const Tensor& b) {
  return map_binary(a, b, "sub", [](auto x, auto y) { return x - y; });
}
Tensor mul(const Tensor& a, const Tensor& b) {
  return map_binary(a, b, "mul", [](auto x, auto y) { return x * y; });
}
Tensor div(const Tensor& a, const Tensor& b) {
  return map_binary(a, b, "div", [](auto x, auto y) { return x / y; });
}
Tensor pow(const Tensor& a, const Tensor& b) {
  return map_binary(a, b, "pow", [](auto x, auto y) { return std::pow(x, y); });
}
Tensor tanh_backward(const Tensor& grad, const Tensor& y) {
  return map_binary(grad, y, "tanh_backward",
                    [](auto g, auto v) { return g * (decltype(v)(1) - v * v); });
}
Tensor sigmoid_backward(const Tensor& grad, const Tensor& y) {
  return map_binary(grad, y, "sigmoid_backward",
                    [](auto g, auto v) { return g * v * (decltype(v)(1) - v); });
}
Tensor maximum(const Tensor& a, const Tensor& b) {
  return map_binary(a, b, "maximum", [](auto x, auto y) { return x > y ? x : y; });
}
Tensor minimum(const Tensor& a, const Tensor& b) {
  return map_binary(a, b, "minimum", [](auto x, auto y) { return x < y ? x : y; });
}
Tensor eq(const Tensor& a, const Tensor& b) {
  return map_binary(a, b, "eq", [](auto x, auto y) { return decltype(x)(x == y); });
}
Tensor gt(const Tensor& a, const Tensor& b) {
  return map_binary(a, b, "gt", [](auto x, auto y) { return decltype(x)(x > y); });
}
Tensor lt(const Tensor& a, const Tensor& b) {
  return map_binary(a, b, "lt", [](auto x, auto y) { return decltype(x)(x < y); });
}
Tensor ge(const Tensor& a, const Tensor& b) {
  return map_binary(a, b, "ge", [](auto x, auto y) { return decltype(x)(x >= y); });
}
Tensor le(const Tensor& a, const Tensor& b) {
  return map_binary(a, b, "le", [](auto x, auto y) { return decltype(x)(x <= y); });
}

Tensor add(const Tensor& a, double s) {
  return add(a, scalar_like(a, s));
}
Tensor mul(const Tensor& a, double s) {
  return mul(a, scalar_like(a, s));
}
Tensor rsub(double s, const Tensor& a) {
  return sub(scalar_like(a, s), a);
}
Tensor rdiv(double s, const Tensor& a) {
  return div(scalar_like(a, s), a);
}

namespace {

// dst[i * ds] = src[i * ss] for i < n; the dense and the repeated-source cases vectorize.
template <class T>
void copy_run(int64_t n, T* dst, int64_t ds, const T* src, int64_t ss) {
  if (ds == 1 && ss == 1) {
    for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
  } else if (ds == 1 && ss == 0) {
    const T v = *src;
    for (int64_t i = 0; i < n; ++i) dst[i] = v;
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i * ds] = src[i * ss];
  }
}

}  // namespace

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_same_dtype("where", a, b);
  check_same_dtype("where", cond, a);
  const Shape shape =
      broadcast_shapes(cond.shape(), broadcast_shapes(a.shape(), b.shape(), "where"), "where");
  Tensor out = empty(shape, a.dtype());
  dispatch(a.dtype(), [&]<class T>(T) {
    // Both branches are loaded unconditionally, so the select vectorizes (a conditional load
    // would stop GCC: it may not read memory the scalar code does not).
    auto pick = [](T c, T x, T y) { return c != T(0) ? x : y; };
    const int64_t n = out.numel();
    auto dense = [n](const Tensor& t) { return t.is_contiguous() && t.numel() == n; };
    if (dense(cond) && dense(a) && dense(b)) {
      T* o = out.data<T>();
      const T* pc = cond.data<T>();
      const T* pa = a.data<T>();
      const T* pb = b.data<T>();
      vectorized([&] {
        for (int64_t i = 0; i < n; ++i) o[i] = pick(pc[i], pa[i], pb[i]);
      });
      return;
    }
    std::array<Shape, 4> strides{out.strides(),
                                 broadcast_strides(cond.shape(), cond.strides(), shape),
                                 broadcast_strides(a.shape(), a.strides(), shape),
                                 broadcast_strides(b.shape(), b.strides(), shape)};
    for_each_strided<T, 4>(
        shape, strides, {out.data<T>(), cond.data<T>(), a.data<T>(), b.data<T>()},
        [&](int64_t len, std::array<T*, 4> p, std::array<int64_t, 4> s) {
          if (s[0] == 1 && s[1] == 1 && s[2] == 1 && s[3] == 1) {
            vectorized([&] {
              for (int64_t i = 0; i < len; ++i) p[0][i] = pick(p[1][i], p[2][i], p[3][i]);
            });
          } else if (s[1] == 0) {
            // One condition for the whole run, as a (B, 1) mask over a (B, units) state in an
            // RNN's masked step: copy the chosen branch instead of picking per element.
            const bool first = p[1][0] != T(0);
            copy_run(len, p[0], s[0], first ? p[2] : p[3], first ? s[2] : s[3]);
          } else {
            for (int64_t i = 0; i < len; ++i) {
              p[0][i * s[0]] = pick(p[1][i * s[1]], p[2][i * s[2]], p[3][i * s[3]]);
            }
          }
        });
  });
  return out;
}

namespace {

// dst (any strides) op= src broadcast to dst's shape; `f(d, s)` updates one element.
template <class F>
void update_into(const char* op, const Tensor& dst, const Tensor& src, F f) {
  check_same_dtype(op, dst, src);
  const Shape shape = broadcast_shapes(dst.shape(), src.shape(), op);
  if (!(shape == dst.shape())) {
    throw_error<ShapeError>("{}: source of shape {} does not fit destination of shape {}", op,
                            src.shape(), dst.shape());
  }
  dispatch(dst.dtype(), [&]<class T>(T) {
    std::array<Shape, 2> strides{dst.strides(),
                                 broadcast_strides(src.shape(), src.strides(), shape)};
    for_each_strided<T, 2>(shape, strides, {dst.data<T>(), src.data<T>()},
                           [&](int64_t n, std::array<T*, 2> p, std::array<int64_t, 2> s) {
                             if (s[0] == 1 && s[1] == 1) {
                               vectorized([&] {
                                 for (int64_t i = 0; i < n; ++i) f(p[0][i], p[1][i]);
                               });
                             } else {
                               for (int64_t i = 0; i < n; ++i) f(p[0][i * s[0]], p[1][i * s[1]]);
                             }
                           });
  });
  dst.bump_version();
}

}  // namespace

void copy_into(const Tensor& dst, const Tensor& src) {
  update_into("copy", dst, src, [](auto& d, auto s) { d = s; });
}

void add_into(const Tensor& dst, const Tensor& src) {
  update_into("add_", dst, src, [](auto& d, auto s) { d += s; });
}

void fill(const Tensor& dst, double value) {
  dispatch(dst.dtype(), [&]<class T>(T) {
    std::array<Shape, 1> strides{dst.strides()};
    for_each_strided<T, 1>(
        dst.shape(), strides, {dst.data<T>()},
        [v = static_cast<T>(value)](int64_t n, std::array<T*, 1> p, std::array<int64_t, 1> s) {
          vectorized([&] {
            for (int64_t i = 0; i < n; ++i) p[0][i * s[0]] = v;
          });
        });
  });
  dst.bump_version();
}

}  // namespace tapegrad::kernel
