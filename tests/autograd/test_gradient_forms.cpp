// The engine finishes the special gradient forms (slice, product) and keeps each pass's
// pending sums to itself.
#include <functional>

#include <check_gradients.hpp>

using namespace tg_test;

namespace {

tg::Tensor randn64(const tg::Shape& shape) {
  return tg::randn(shape, tg::f64);
}

double max_abs_diff(const tg::Tensor& a, const tg::Tensor& b) {
  return tg::max(tg::abs(a - b)).item();
}

}  // namespace

TEST_CASE("a weight's product gradients from many steps sum with its dense ones, in any order") {
  // w feeds 5 matmuls (product forms) and two elementwise uses (dense forms), one before the
  // first matmul and one after, so the pending sum starts from either kind.
  tg::manual_seed(3);
  const tg::Tensor w = randn64({4, 3}).requires_grad_();
  std::vector<tg::Tensor> xs;
  for (int t = 0; t < 5; ++t) xs.push_back(randn64({2, 4}));
  const tg::Tensor u = randn64({2, 3});
  for (const bool dense_last : {false, true}) {
    CAPTURE(dense_last);
    tg::Tensor loss = tg::sum(w * w);
    for (const tg::Tensor& x : xs) loss = loss + tg::sum(tg::matmul(x, w) * u);
    if (dense_last) loss = tg::sum(w * 2.0) + loss;
    const tg::Tensor g = tg::grad({loss}, {w})[0];

    tg::Tensor expected = w.detach() * 2.0 + (dense_last ? 2.0 : 0.0);
    for (const tg::Tensor& x : xs) expected = expected + tg::matmul(tg::transpose(x, 0, 1), u);
    CHECK(max_abs_diff(g, expected) < 1e-12);
  }
}

TEST_CASE("a product gradient into a 2-D input, and folded rows of a 3-D input") {
  tg::manual_seed(4);
  const tg::Tensor x = randn64({3, 4}).requires_grad_();
  const tg::Tensor seq = randn64({5, 3, 4}).requires_grad_();
  const tg::Tensor w = randn64({4, 2}).requires_grad_();
  check_gradients([](const auto& v) { return tg::matmul(v[0], v[2]) * 2.0; }, {x, seq, w});
  check_gradients(
      [](const auto& v) {
        return tg::matmul(v[1], v[2]) + tg::unsqueeze(tg::matmul(v[0], v[2]), 0);
      },
      {x, seq, w});
}

TEST_CASE("recorded backward writes products and slices with ops: second derivatives") {
  // f(w) = sum((x w)^2) over two steps, through a slice: the Hessian-vector product is
  // 2 x^T x v for each step's rows.
  tg::manual_seed(5);
  const tg::Tensor x = randn64({6, 4});
  const tg::Tensor w = randn64({4, 3}).requires_grad_();
  const tg::Tensor v = randn64({4, 3});
  tg::Tensor f = tg::zeros({}, tg::f64);
  for (int t = 0; t < 2; ++t) {
    const tg::Tensor rows = tg::slice(x, 0, 3 * t, 3 * t + 3);
    f = f + tg::sum(tg::square(tg::matmul(rows, w)));
  }
  const tg::Tensor g = tg::grad({f}, {w}, {.create_graph = true})[0];
  const tg::Tensor hv = tg::grad({tg::sum(g * v)}, {w})[0];
  const tg::Tensor xtx = tg::matmul(tg::transpose(x, 0, 1), x);
  CHECK(max_abs_diff(hv, tg::matmul(xtx, v) * 2.0) < 1e-12);
}

TEST_CASE("a pass run inside another keeps its own pending sums") {
  // While the outer backward visits b, a hook runs a second pass through a, whose gradient
  // the outer pass is still summing (from a * 5). Pending sums kept on the records were shared
  // by both passes: the nested pass took c's contribution, and the outer one lost it.
  const tg::Tensor x = tg::tensor({1.0, 2.0}).requires_grad_();
  const tg::Tensor a = x * x;
  const tg::Tensor b = a * 3.0;
  const tg::Tensor sum_c = tg::sum(a * 5.0);
  tg::Tensor nested;
  b.register_hook([&](const tg::Tensor& g) {
    nested = tg::grad({sum_c}, {x}, {.retain_graph = true})[0];
    return g;
  });
  tg::backward({tg::sum(b) + sum_c}, {}, {.retain_graph = true});
  CHECK(nested.to_vector<double>() == std::vector<double>{10.0, 20.0});    // 2x * 5
  CHECK(x.grad().to_vector<double>() == std::vector<double>{16.0, 32.0});  // 2x * (3 + 5)
}

TEST_CASE("a rule's product of the wrong shape is an AutogradError naming the op and shapes") {
  const tg::Tensor w = tg::ones({2, 2}, tg::f64).requires_grad_();
  const tg::Tensor y =
      tg::record({.op = "bad_product", .inputs = {w}}, w.detach().clone(),
                 [](const tg::BackwardContext&) -> tg::Grads {
                   return {tg::InputGradient::product(tg::ones({3, 2}, tg::f64),
                                                      tg::ones({2, 2}, tg::f64), nullptr)};
                 });
  CHECK_THROWS_WITH_AS(tg::sum(y).backward(),
                       doctest::Contains("bad_product returned a product of shapes [3,2] and [2,2] "
                                         "for input 0 of shape [2,2]"),
                       tg::AutogradError);
}

TEST_CASE("slice gradients into an unwritten buffer: copies, overlaps, other axes, gaps") {
  // A buffer only slices fill is not zero-filled first: each slice onto unwritten indices is
  // copied, and only what no slice reached is zeroed. Every order of overlapping slices,
  // slices along another axis, strided slices, selects and a dense use must give what the
  // recorded pass (dense embeddings, summed with ops) gives.
  tg::manual_seed(6);
  const tg::Tensor x = randn64({6, 3}).requires_grad_();
  using Term = std::function<tg::Tensor(const tg::Tensor&)>;
  const std::vector<Term> terms = {
      [](const tg::Tensor& v) { return tg::slice(v, 0, 0, 2) * 2.0; },
      [](const tg::Tensor& v) { return tg::slice(v, 0, 1, 3) * 3.0; },  // overlaps row 1
      [](const tg::Tensor& v) { return tg::select(v, 0, 5) * 5.0; },
      [](const tg::Tensor& v) { return tg::slice(v, 0, 0, 6, 4) * 7.0; },   // rows 0 and 4
      [](const tg::Tensor& v) { return tg::slice(v, 1, 0, 3, 2) * 11.0; },  // columns 0, 2
      [](const tg::Tensor& v) { return v * 13.0; },
  };
  const std::vector<std::vector<int>> orders = {{0, 1, 2}, {1, 0, 2}, {2, 3},    {3, 0, 1}, {0, 4},
                                                {4, 0, 2}, {5, 0},    {0, 5, 2}, {2}};
  for (const std::vector<int>& order : orders) {
    CAPTURE(order);
    auto loss_of = [&](const tg::Tensor& v) {
      tg::Tensor loss = tg::zeros({}, tg::f64);
      for (int k : order) loss = loss + tg::sum(tg::square(terms[k](v)));
      return loss;
    };
    const tg::Tensor fast = tg::grad({loss_of(x)}, {x})[0];
    const tg::Tensor recorded = tg::grad({loss_of(x)}, {x}, {.create_graph = true})[0];
    CHECK(max_abs_diff(fast, recorded.detach()) < 1e-12);
  }
}

TEST_CASE(".grad() takes the pass's own sum as it is, but never a tensor a hook handed back") {
  // The sum of two uses is a buffer of the pass's own and becomes .grad() without a copy; a
  // hook's result may be any tensor, so .grad() gets a copy of it.
  const tg::Tensor w = tg::ones({3}, tg::f64).requires_grad_();
  tg::backward({tg::sum(w * 2.0) + tg::sum(w * 3.0)});
  CHECK(w.grad().to_vector<double>() == std::vector<double>{5.0, 5.0, 5.0});

  const tg::Tensor v = tg::ones({3}, tg::f64).requires_grad_();
  const tg::Tensor kept = tg::full({3}, 7.0, tg::f64);
  v.register_hook([&](const tg::Tensor&) { return kept; });
  tg::backward({tg::sum(v * 2.0) + tg::sum(v * 3.0)});
  tg::kernel::add_into(v.grad(), tg::ones({3}, tg::f64));
  CHECK(v.grad().to_vector<double>() == std::vector<double>{8.0, 8.0, 8.0});
  CHECK(kept.to_vector<double>() == std::vector<double>{7.0, 7.0, 7.0});
}
