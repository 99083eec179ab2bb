#include <tapegrad/autograd/gradcheck.hpp>

#include <cmath>

#include <tapegrad/autograd/engine.hpp>
#include <tapegrad/autograd/grad_mode.hpp>
#include <tapegrad/core/random.hpp>

namespace tapegrad {
namespace {

// Functions of several inputs to several outputs: gradgradcheck's function returns one
// gradient per input, and gradcheck's single output is the one-element case.
using MultiFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

std::vector<Tensor> f64_leaves(const std::vector<Tensor>& inputs) {
  std::vector<Tensor> out;
  for (const Tensor& t : inputs) {
    check_defined("gradcheck", t);
    out.push_back(t.detach().to(f64).clone().requires_grad_(true));
  }
  return out;
}

// Flattened values of fn's outputs at x. fn runs as the user runs it, with grad mode on (as
// torch.autograd.gradcheck does): a function may register hooks or call retain_grad(), which
// need a recorded graph. The graph is dropped with the outputs.
std::vector<double> evaluate(const MultiFn& fn, const std::vector<Tensor>& x) {
  EnableGradGuard recording;
  std::vector<double> values;
  for (const Tensor& y : fn(x)) {
    if (!y.defined()) continue;
    for (double v : y.to(f64).to_vector<double>()) values.push_back(v);
  }
  return values;
}

// x + h * direction, as fresh leaves.
std::vector<Tensor> shifted(const std::vector<Tensor>& x,
                            const std::vector<std::vector<double>>& dir, double h) {
  std::vector<Tensor> out;
  for (std::size_t i = 0; i < x.size(); ++i) {
    std::vector<double> v = x[i].to_vector<double>();
    for (std::size_t j = 0; j < v.size(); ++j) v[j] += h * dir[i][j];
    out.push_back(from_vector(v, x[i].shape()).requires_grad_(true));
  }
  return out;
}

std::vector<double> central_difference(const MultiFn& fn, const std::vector<Tensor>& x,
                                       const std::vector<std::vector<double>>& dir, double eps) {
  const std::vector<double> plus = evaluate(fn, shifted(x, dir, eps));
  const std::vector<double> minus = evaluate(fn, shifted(x, dir, -eps));
  std::vector<double> d(plus.size());
  for (std::size_t k = 0; k < d.size(); ++k) d[k] = (plus[k] - minus[k]) / (2 * eps);
  return d;
}

// u^T J as one vector per input, by one backward pass with grad_outputs u.
std::vector<std::vector<double>> vjp(const MultiFn& fn, const std::vector<Tensor>& x,
                                     const std::vector<double>& u) {
  EnableGradGuard recording;
  const std::vector<Tensor> ys = fn(x);
  std::vector<Tensor> outs;
  std::vector<Tensor> seeds;
  std::size_t k = 0;
  for (const Tensor& y : ys) {
    if (!y.defined()) continue;
    const std::vector<double> part(u.begin() + k, u.begin() + k + y.numel());
    k += y.numel();
    if (!y.requires_grad()) continue;  // a constant output contributes nothing
    outs.push_back(y);
    seeds.push_back(from_vector(part, y.shape()).to(y.dtype()));
  }
  std::vector<std::vector<double>> result;
  std::vector<Tensor> grads;
  if (!outs.empty()) grads = grad(outs, x, {.allow_unused = true}, seeds);
  for (std::size_t i = 0; i < x.size(); ++i) {
    result.push_back(i < grads.size() && grads[i].defined() ? grads[i].to(f64).to_vector<double>()
                                                            : std::vector<double>(x[i].numel()));
  }
  return result;
}

struct Comparison {
  GradcheckReport worst = {};
  double worst_excess = -INFINITY;
  const GradcheckOptions& opts;

  void add(int64_t input, int64_t element, double analytic, double numeric) {
    const double err = std::abs(analytic - numeric);
    const double excess = err - (opts.atol + opts.rtol * std::abs(numeric));
    if (!(excess <= worst_excess) || std::isnan(err)) {
      worst_excess = std::isnan(err) ? INFINITY : excess;
      worst.input = input;
      worst.element = element;
      worst.analytic = analytic;
      worst.numeric = numeric;
      worst.abs_error = err;
      worst.rel_error = err / std::max(std::abs(numeric), 1e-300);
    }
  }

  GradcheckReport finish() {
    worst.ok = worst_excess <= 0;
    worst.message =
        worst.ok
            ? "ok"
            : gradcheck_failure_message(
                  worst,
                  worst.input >= 0 ? fmt::format("input {}, element {}", worst.input, worst.element)
                                   : fmt::format("a random projection, element {}", worst.element),
                  opts);
    return worst;
  }
};

std::vector<double> unit(std::size_t n, std::size_t k) {
  std::vector<double> v(n, 0.0);
  v[k] = 1.0;
  return v;
}

std::vector<double> random_vector(std::size_t n, Generator& gen) {
  std::vector<double> v(n);
  for (double& e : v) e = gen.normal();
  return v;
}

GradcheckReport full_jacobian(const MultiFn& fn, const std::vector<Tensor>& x, std::size_t n_out,
                              const GradcheckOptions& opts) {
  Comparison cmp{.opts = opts};
  // Rows of J from backward passes: analytic[k][i][j] = d out_k / d x_i[j].
  std::vector<std::vector<std::vector<double>>> rows;
  for (std::size_t k = 0; k < n_out; ++k) rows.push_back(vjp(fn, x, unit(n_out, k)));
  for (std::size_t i = 0; i < x.size(); ++i) {
    for (int64_t j = 0; j < x[i].numel(); ++j) {
      std::vector<std::vector<double>> dir;
      for (std::size_t m = 0; m < x.size(); ++m) {
        dir.push_back(m == i ? unit(x[m].numel(), j) : std::vector<double>(x[m].numel()));
      }
      const std::vector<double> column = central_difference(fn, x, dir, opts.eps);
      for (std::size_t k = 0; k < n_out; ++k) cmp.add(i, j, rows[k][i][j], column[k]);
    }
  }
  return cmp.finish();
}

GradcheckReport projections(const MultiFn& fn, const std::vector<Tensor>& x, std::size_t n_out,
                            const GradcheckOptions& opts) {
  Comparison cmp{.opts = opts};
  Generator gen(opts.seed);
  for (int p = 0; p < opts.projections; ++p) {
    const std::vector<double> u = random_vector(n_out, gen);
    std::vector<std::vector<double>> v;
    for (const Tensor& t : x) v.push_back(random_vector(t.numel(), gen));
    const std::vector<std::vector<double>> uj = vjp(fn, x, u);
    double analytic = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      for (std::size_t j = 0; j < v[i].size(); ++j) analytic += uj[i][j] * v[i][j];
    }
    const std::vector<double> jv = central_difference(fn, x, v, opts.eps);
    double numeric = 0;
    for (std::size_t k = 0; k < n_out; ++k) numeric += u[k] * jv[k];
    cmp.add(-1, p, analytic, numeric);
  }
  return cmp.finish();
}

GradcheckReport check(const MultiFn& fn, const std::vector<Tensor>& inputs,
                      const GradcheckOptions& opts) {
  const std::vector<Tensor> x = f64_leaves(inputs);
  const std::size_t n_out = evaluate(fn, x).size();
  int64_t n_in = 0;
  for (const Tensor& t : x) n_in += t.numel();
  if (n_in * static_cast<int64_t>(n_out) <= opts.full_jacobian_limit) {
    return full_jacobian(fn, x, n_out, opts);
  }
  return projections(fn, x, n_out, opts);
}

}  // namespace

std::string gradcheck_failure_message(const GradcheckReport& report, const std::string& where,
                                      const GradcheckOptions& opts) {
  return fmt::format(
      "gradcheck failed at {}: analytic {:.10g} vs numeric {:.10g} (abs error {:.3g}, rel "
      "error {:.3g}; atol {:.1g}, rtol {:.1g})",
      where, report.analytic, report.numeric, report.abs_error, report.rel_error, opts.atol,
      opts.rtol);
}

GradcheckReport gradcheck(const DifferentiableFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& opts) {
  return check([&fn](const std::vector<Tensor>& x) { return std::vector<Tensor>{fn(x)}; }, inputs,
               opts);
}

GradcheckReport gradgradcheck(const DifferentiableFn& fn, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& opts) {
  // A fixed random cotangent u turns fn into the scalar u . fn(x); its gradient, computed
  // with create_graph, is the function whose gradient we check.
  Generator gen(opts.seed + 1);
  Tensor u;
  const MultiFn first_derivative = [&](const std::vector<Tensor>& x) {
    EnableGradGuard record_backward;  // also when evaluated for finite differences
    const Tensor y = fn(x);
    if (!u.defined()) u = from_vector(random_vector(y.numel(), gen), y.shape());
    return grad({y}, x, {.create_graph = true, .allow_unused = true}, {u.to(y.dtype())});
  };
  return check(first_derivative, inputs, opts);
}

}  // namespace tapegrad
