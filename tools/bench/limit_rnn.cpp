// limit_rnn: the training benchmark's workload written by hand, the anchor tapegrad is
// measured against beside the peers (issue 23): a stack of SimpleRNN layers -> Dense(1), MSE,
// Keras's Adam, shuffled mini-batches, forward and backpropagation through time with no
// tape, no framework and no allocation after setup. What it does is what the fastest
// program can do for this model on this machine:
//   - every GEMM is a libxsmm kernel JIT-compiled for its shape once, before the timing;
//   - each layer's input projection is one GEMM over all time steps, bias included, so a
//     step adds only h_{t-1} @ U and a tanh;
//   - each weight gradient is one GEMM over all steps (H^T @ dZ), never a sum of per-step
//     products; dZ @ U^T multiplies by U^T transposed once per batch (libxsmm has no kernel
//     for a transposed right operand);
//   - tanh is libmvec's vector function, the same tapegrad calls.
// It takes the flags and prints the JSON line of `tapegrad bench` and the PyTorch references
// (tools/bench/reference), with "impl": "limit", so tools/bench/bench_rnn.sh runs it as one
// more column. --cell rnn only; its own random numbers, so final_loss is near, not equal to,
// the others'.
//
//   limit_rnn [--cell rnn] [--hidden 64,32] [--seq 10] [--features 1] [--samples 100]
//             [--batch 32] [--epochs 100] [--threads 1] [--seed 0] [--gradcheck]
//
// --gradcheck checks the hand-written backward instead of timing it: the gradients of the
// first batch against central differences of the loss (ctest limit_rnn_gradcheck).
#include <immintrin.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <libxsmm.h>

extern "C" {
__m512 _ZGVeN16v_tanhf(__m512);  // libmvec
__m256 _ZGVdN8v_tanhf(__m256);
}

namespace {

// ---- kernels ----

// tanh in place, 16 or 8 floats at a time; the tail through a zero-padded vector.
__attribute__((target("avx512f"))) void tanh_avx512(float* x, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, _ZGVeN16v_tanhf(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 tail = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(x + i, tail, _ZGVeN16v_tanhf(_mm512_maskz_loadu_ps(tail, x + i)));
  }
}

__attribute__((target("avx2,fma"))) void tanh_avx2(float* x, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _ZGVdN8v_tanhf(_mm256_loadu_ps(x + i)));
  for (; i < n; ++i) x[i] = std::tanh(x[i]);
}

const bool kAvx512 = __builtin_cpu_supports("avx512f");

void tanh_inplace(float* x, std::int64_t n) {
  if (kAvx512) {
    tanh_avx512(x, n);
  } else {
    tanh_avx2(x, n);
  }
}

// Row-major C (m x n) = op(A) op(B) + beta C, as a libxsmm kernel made once: libxsmm is
// column-major, so it computes C^T = op(B)^T op(A)^T, B first.
class Gemm {
 public:
  Gemm() = default;
  Gemm(int m, int n, int k, bool trans_a, float beta) {
    const int flags = trans_a ? LIBXSMM_GEMM_FLAG_TRANS_B : 0;
    const libxsmm_blasint lda = n, ldb = trans_a ? m : k, ldc = n;
    const float alpha = 1;
    kernel_ = libxsmm_smmdispatch(n, m, k, &lda, &ldb, &ldc, &alpha, &beta, &flags, nullptr);
    if (kernel_ == nullptr) {
      std::fprintf(stderr, "limit_rnn: libxsmm has no kernel for %dx%dx%d\n", m, n, k);
      std::exit(1);
    }
  }
  void operator()(const float* a, const float* b, float* c) const { kernel_(b, a, c); }

 private:
  libxsmm_smmfunction kernel_ = nullptr;
};

void transpose(const float* a, int rows, int cols, float* out) {
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) out[c * rows + r] = a[r * cols + c];
  }
}

// ---- the model ----

struct Param {
  std::vector<float> value, grad, m, v;
  explicit Param(std::size_t n) : value(n), grad(n), m(n), v(n) {}
};

// One SimpleRNN layer: kernel W (in x units), recurrent kernel U (units x units), bias b.
struct Layer {
  int in, units;
  Param W, U, b;
  std::vector<float> U_t;    // U transposed, for dZ @ U^T
  std::vector<float> H;      // h_0 .. h_T, time-major: (T + 1) x batch x units, h_0 = 0
  std::vector<float> dZ;     // T x batch x units
  std::vector<float> dH_in;  // dL/d(input) from this layer: T x batch x in
  std::vector<float> carry;  // dL/dh_{t-1} through U: batch x units
  Layer(int in_, int units_, int seq, int batch)
      : in(in_),
        units(units_),
        W(static_cast<std::size_t>(in_) * units_),
        U(static_cast<std::size_t>(units_) * units_),
        b(units_),
        U_t(U.value.size()),
        H(static_cast<std::size_t>(seq + 1) * batch * units_),
        dZ(static_cast<std::size_t>(seq) * batch * units_),
        dH_in(static_cast<std::size_t>(seq) * batch * in_),
        carry(static_cast<std::size_t>(batch) * units_) {}
};

// The kernels of one batch size (the full batches and the last, shorter one).
struct LayerKernels {
  Gemm project;         // X (T*B x in) @ W -> Z (T*B x units)
  Gemm step;            // h_{t-1} (B x units) @ U, added to z_t
  Gemm back_step;       // dz_t (B x units) @ U^T -> carry
  Gemm back_input;      // dZ (T*B x units) @ W^T -> dH_in (T*B x in)
  Gemm grad_U, grad_W;  // H_prev^T @ dZ, X^T @ dZ over all T*B rows
};

std::vector<LayerKernels> make_kernels(const std::vector<Layer>& layers, int seq, int batch) {
  std::vector<LayerKernels> out;
  const int rows = seq * batch;
  for (const Layer& l : layers) {
    out.push_back({Gemm(rows, l.units, l.in, false, 0), Gemm(batch, l.units, l.units, false, 1),
                   Gemm(batch, l.units, l.units, false, 0), Gemm(rows, l.in, l.units, false, 0),
                   Gemm(l.units, l.units, rows, true, 0), Gemm(l.in, l.units, rows, true, 0)});
  }
  return out;
}

struct Model {
  std::vector<Layer> layers;
  Param Wd, bd;            // Dense(1)
  std::vector<float> W_t;  // scratch for W^T (largest in x units)
  Model(int features, const std::vector<int>& hidden, int seq, int batch, std::mt19937& rng)
      : Wd(hidden.back()), bd(1) {
    int in = features;
    for (int units : hidden) {
      layers.emplace_back(in, units, seq, batch);
      in = units;
    }
    std::size_t largest = 0;
    for (Layer& l : layers) {
      glorot(l.W.value, l.in, l.units, rng);
      orthogonal(l.U.value, l.units, rng);
      largest = std::max(largest, l.W.value.size());
    }
    glorot(Wd.value, hidden.back(), 1, rng);
    W_t.resize(largest);
  }
  std::vector<Param*> params() {
    std::vector<Param*> out;
    for (Layer& l : layers) out.insert(out.end(), {&l.W, &l.U, &l.b});
    out.insert(out.end(), {&Wd, &bd});
    return out;
  }
  static void glorot(std::vector<float>& w, int fan_in, int fan_out, std::mt19937& rng) {
    const float limit = std::sqrt(6.0f / static_cast<float>(fan_in + fan_out));
    std::uniform_real_distribution<float> u(-limit, limit);
    for (float& x : w) x = u(rng);
  }
  // A random orthogonal matrix: Gram-Schmidt on a Gaussian one.
  static void orthogonal(std::vector<float>& w, int n, std::mt19937& rng) {
    std::normal_distribution<double> g;
    std::vector<double> q(static_cast<std::size_t>(n) * n);
    for (double& x : q) x = g(rng);
    for (int r = 0; r < n; ++r) {
      double* row = &q[static_cast<std::size_t>(r) * n];
      for (int p = 0; p < r; ++p) {
        const double* prev = &q[static_cast<std::size_t>(p) * n];
        const double dot = std::inner_product(row, row + n, prev, 0.0);
        for (int c = 0; c < n; ++c) row[c] -= dot * prev[c];
      }
      const double norm = std::sqrt(std::inner_product(row, row + n, row, 0.0));
      for (int c = 0; c < n; ++c) row[c] /= norm;
    }
    for (std::size_t i = 0; i < q.size(); ++i) w[i] = static_cast<float>(q[i]);
  }
};

// ---- one training step ----

// Forward and backward of one batch: X (T x B x features, time-major), y (B); returns the
// batch's mean squared error and leaves every gradient in Param::grad.
float train_batch(Model& model, const std::vector<LayerKernels>& kernels, const float* X,
                  const float* y, int seq, int batch) {
  const std::size_t rows = static_cast<std::size_t>(seq) * batch;
  // Forward.
  const float* input = X;
  for (std::size_t li = 0; li < model.layers.size(); ++li) {
    Layer& l = model.layers[li];
    const LayerKernels& k = kernels[li];
    const std::size_t step = static_cast<std::size_t>(batch) * l.units;
    float* Z = l.H.data() + step;  // z_1 .. z_T become h_1 .. h_T in place
    std::fill(l.H.begin(), l.H.begin() + static_cast<std::ptrdiff_t>(step), 0.0f);
    k.project(input, l.W.value.data(), Z);
    for (std::size_t r = 0; r < rows; ++r) {
      for (int u = 0; u < l.units; ++u) Z[r * l.units + u] += l.b.value[u];
    }
    for (int t = 0; t < seq; ++t) {
      float* z = Z + t * step;
      if (t > 0) k.step(z - step, l.U.value.data(), z);
      tanh_inplace(z, static_cast<std::int64_t>(step));
    }
    input = Z;
  }
  // Dense(1) on h_T of the last layer, and the loss.
  Layer& last = model.layers.back();
  const float* h_T = last.H.data() + static_cast<std::size_t>(seq) * batch * last.units;
  float loss = 0;
  std::fill(last.dZ.begin(), last.dZ.end(), 0.0f);
  float* dh_T = last.dZ.data() + (rows - batch) * last.units;  // dL/dh_T, made dZ_T below
  std::fill(model.Wd.grad.begin(), model.Wd.grad.end(), 0.0f);
  model.bd.grad[0] = 0;
  for (int i = 0; i < batch; ++i) {
    const float* h = h_T + static_cast<std::size_t>(i) * last.units;
    const float out =
        std::inner_product(h, h + last.units, model.Wd.value.data(), model.bd.value[0]);
    const float diff = out - y[i];
    loss += diff * diff;
    const float dout = 2 * diff / static_cast<float>(batch);
    model.bd.grad[0] += dout;
    for (int u = 0; u < last.units; ++u) {
      model.Wd.grad[u] += h[u] * dout;
      dh_T[static_cast<std::size_t>(i) * last.units + u] = dout * model.Wd.value[u];
    }
  }
  // Backward through time, last layer first. dZ holds dL/dh_t from above on entry.
  for (std::size_t li = model.layers.size(); li-- > 0;) {
    Layer& l = model.layers[li];
    const LayerKernels& k = kernels[li];
    const std::size_t step = static_cast<std::size_t>(batch) * l.units;
    transpose(l.U.value.data(), l.units, l.units, l.U_t.data());
    std::fill(l.carry.begin(), l.carry.end(), 0.0f);
    for (int t = seq - 1; t >= 0; --t) {
      float* dz = l.dZ.data() + t * step;
      const float* h = l.H.data() + (t + 1) * step;
      for (std::size_t i = 0; i < step; ++i) dz[i] = (dz[i] + l.carry[i]) * (1 - h[i] * h[i]);
      if (t > 0) k.back_step(dz, l.U_t.data(), l.carry.data());
    }
    k.grad_U(l.H.data(), l.dZ.data(), l.U.grad.data());  // h_0 .. h_{T-1} against dz_1 .. dz_T
    const float* input =
        li == 0 ? X : model.layers[li - 1].H.data() + static_cast<std::size_t>(batch) * l.in;
    k.grad_W(input, l.dZ.data(), l.W.grad.data());
    std::fill(l.b.grad.begin(), l.b.grad.end(), 0.0f);
    for (std::size_t r = 0; r < rows; ++r) {
      for (int u = 0; u < l.units; ++u) l.b.grad[u] += l.dZ[r * l.units + u];
    }
    if (li > 0) {  // dL/dh of the layer below: dZ @ W^T, into that layer's dZ
      transpose(l.W.value.data(), l.in, l.units, model.W_t.data());
      k.back_input(l.dZ.data(), model.W_t.data(), model.layers[li - 1].dZ.data());
    }
  }
  return loss / static_cast<float>(batch);
}

// Keras's Adam: lr_t = lr sqrt(1 - b2^t) / (1 - b1^t); w -= lr_t m / (sqrt(v) + eps).
void adam_step(Model& model, int t) {
  constexpr float lr = 1e-3f, b1 = 0.9f, b2 = 0.999f, eps = 1e-7f;
  const float lr_t = lr * std::sqrt(1 - std::pow(b2, static_cast<float>(t))) /
                     (1 - std::pow(b1, static_cast<float>(t)));
  for (Param* p : model.params()) {
    for (std::size_t i = 0; i < p->value.size(); ++i) {
      p->m[i] = b1 * p->m[i] + (1 - b1) * p->grad[i];
      p->v[i] = b2 * p->v[i] + (1 - b2) * p->grad[i] * p->grad[i];
      p->value[i] -= lr_t * p->m[i] / (std::sqrt(p->v[i]) + eps);
    }
  }
}

// ---- the benchmark ----

struct Options {
  std::vector<int> hidden{64, 32};
  int seq = 10, features = 1, samples = 100, batch = 32, epochs = 100, threads = 1;
  unsigned seed = 0;
  bool gradcheck = false;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "limit_rnn: %s\nusage: limit_rnn [--cell rnn] [--hidden 64,32] [--seq 10] "
               "[--features 1] [--samples 100] [--batch 32] [--epochs 100] [--threads 1] "
               "[--seed 0] [--gradcheck]\n",
               why);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--gradcheck") {
      o.gradcheck = true;
      continue;
    }
    if (i + 1 >= argc) usage(("no value after " + flag).c_str());
    const std::string value = argv[++i];
    if (flag == "--cell") {
      if (value != "rnn") usage("--cell: only rnn (SimpleRNN) is written by hand");
    } else if (flag == "--hidden") {
      o.hidden.clear();
      for (std::size_t at = 0; at <= value.size();) {
        const std::size_t comma = std::min(value.find(',', at), value.size());
        o.hidden.push_back(std::atoi(value.substr(at, comma - at).c_str()));
        at = comma + 1;
      }
    } else if (flag == "--seq") {
      o.seq = std::atoi(value.c_str());
    } else if (flag == "--features") {
      o.features = std::atoi(value.c_str());
    } else if (flag == "--samples") {
      o.samples = std::atoi(value.c_str());
    } else if (flag == "--batch") {
      o.batch = std::atoi(value.c_str());
    } else if (flag == "--epochs") {
      o.epochs = std::atoi(value.c_str());
    } else if (flag == "--threads") {
      o.threads = std::atoi(value.c_str());
    } else if (flag == "--seed") {
      o.seed = static_cast<unsigned>(std::atoi(value.c_str()));
    } else {
      usage(("unknown flag " + flag).c_str());
    }
  }
  for (int v : o.hidden) {
    if (v < 1) usage("--hidden: every size must be at least 1");
  }
  if (o.seq < 1 || o.features < 1 || o.samples < 1 || o.batch < 1 || o.epochs < 1) {
    usage("--seq, --features, --samples, --batch and --epochs must be at least 1");
  }
  return o;
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

// Rows `order[start, start + b)` of X (samples x seq x features) into Xb, time-major
// (seq x b x features), and their targets into yb.
void gather_batch(const std::vector<float>& X, const std::vector<float>& y,
                  const std::vector<int>& order, int start, int b, const Options& o, float* Xb,
                  float* yb) {
  for (int i = 0; i < b; ++i) {
    const float* sample = &X[static_cast<std::size_t>(order[start + i]) * o.seq * o.features];
    for (int t = 0; t < o.seq; ++t) {
      std::copy_n(sample + static_cast<std::size_t>(t) * o.features, o.features,
                  Xb + (static_cast<std::size_t>(t) * b + i) * o.features);
    }
    yb[i] = y[order[start + i]];
  }
}

// The gradients train_batch writes against central differences of its loss, at the first,
// middle and last entry of every parameter; 0 when all agree to 2% (or 1e-4 absolute).
int gradcheck(Model model, const std::vector<LayerKernels>& kernels, const float* Xb,
              const float* yb, int seq, int batch) {
  constexpr float h = 1e-2f;
  train_batch(model, kernels, Xb, yb, seq, batch);
  std::vector<std::vector<float>> analytic;
  for (const Param* p : model.params()) analytic.push_back(p->grad);
  double worst = 0;
  const std::vector<Param*> params = model.params();
  for (std::size_t p = 0; p < params.size(); ++p) {
    const std::size_t n = params[p]->value.size();
    for (const std::size_t i : {std::size_t{0}, n / 2, n - 1}) {
      float& w = params[p]->value[i];
      const float kept = w;
      w = kept + h;
      const double up = train_batch(model, kernels, Xb, yb, seq, batch);
      w = kept - h;
      const double down = train_batch(model, kernels, Xb, yb, seq, batch);
      w = kept;
      const double numeric = (up - down) / (2 * h), exact = analytic[p][i];
      const double error = std::abs(numeric - exact) / std::max(5e-3, std::abs(numeric));
      worst = std::max(worst, error);
      if (error > 0.02) {
        std::printf("parameter %zu entry %zu: backward %.6g, central difference %.6g\n", p, i,
                    exact, numeric);
      }
    }
  }
  std::printf("limit_rnn --gradcheck: largest relative error %.2g over %zu parameters\n", worst,
              params.size());
  return worst <= 0.02 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  libxsmm_init();
  std::mt19937 rng(o.seed);
  std::uniform_real_distribution<float> unit;
  // X is kept sample-major (samples x seq x features); a batch is gathered time-major.
  std::vector<float> X(static_cast<std::size_t>(o.samples) * o.seq * o.features), y(o.samples);
  for (float& v : X) v = unit(rng);
  for (float& v : y) v = unit(rng);
  const Model initial(o.features, o.hidden, o.seq, o.batch, rng);

  const int last_batch = o.samples % o.batch;
  const std::vector<LayerKernels> full = make_kernels(initial.layers, o.seq, o.batch);
  const std::vector<LayerKernels> tail =
      last_batch ? make_kernels(initial.layers, o.seq, last_batch) : full;
  std::vector<float> Xb(static_cast<std::size_t>(o.seq) * o.batch * o.features), yb(o.batch);
  std::vector<int> order(o.samples);

  if (o.gradcheck) {
    std::iota(order.begin(), order.end(), 0);
    const int b = std::min(o.batch, o.samples);
    gather_batch(X, y, order, 0, b, o, Xb.data(), yb.data());
    return gradcheck(initial, b == o.batch ? full : tail, Xb.data(), yb.data(), o.seq, b);
  }

  // One epoch; its sample-weighted mean loss.
  const auto epoch = [&](Model& model, int& step, std::mt19937& shuffle) {
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), shuffle);
    double total = 0;
    for (int start = 0; start < o.samples; start += o.batch) {
      const int b = std::min(o.batch, o.samples - start);
      gather_batch(X, y, order, start, b, o, Xb.data(), yb.data());
      const float loss =
          train_batch(model, b == o.batch ? full : tail, Xb.data(), yb.data(), o.seq, b);
      adam_step(model, ++step);
      total += static_cast<double>(loss) * b;
    }
    return total / o.samples;
  };

  {  // warm-up: first touches, caches
    Model warm = initial;
    std::mt19937 shuffle(o.seed + 1);
    int step = 0;
    epoch(warm, step, shuffle);
  }
  Model model = initial;
  std::mt19937 shuffle(o.seed + 1);
  int step = 0;
  std::vector<double> ms;
  double loss = 0;
  for (int e = 0; e < o.epochs; ++e) {
    const auto start = std::chrono::steady_clock::now();
    loss = epoch(model, step, shuffle);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
  }
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  std::string hidden;
  for (std::size_t i = 0; i < o.hidden.size(); ++i) {
    if (i > 0) hidden.push_back(',');
    hidden.append(std::to_string(o.hidden[i]));
  }
  // printf, not fmt: fmt 9 trips g++ 12's -Wstringop-overflow at -O3 -march=native.
  std::printf(
      "{\"impl\": \"limit\", \"cell\": \"rnn\", \"hidden\": \"%s\", \"seq\": %d, "
      "\"features\": %d, \"samples\": %d, \"batch\": %d, \"epochs\": %d, \"threads\": %d, "
      "\"seed\": %u, \"epoch_ms_median\": %.4f, \"epoch_ms_min\": %.4f, "
      "\"train_s_total\": %.4f, \"final_loss\": %.6g, \"peak_rss_mb\": %.1f, "
      "\"blas\": \"libxsmm %s\"}\n",
      hidden.c_str(), o.seq, o.features, o.samples, o.batch, o.epochs, o.threads, o.seed,
      sorted[sorted.size() / 2], sorted.front(), std::accumulate(ms.begin(), ms.end(), 0.0) / 1e3,
      loss, peak_rss_mb(), LIBXSMM_VERSION);
  libxsmm_finalize();
  return 0;
}
