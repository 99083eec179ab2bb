// std::cout << tensor and << shape: before, only fmt printed them and an iostream
// gave a long template error; now both print what fmt::format("{}", ...) gives.
#include <doctest/doctest.h>

#include <sstream>

#include <tapegrad/tapegrad.hpp>

namespace tg = tapegrad;

TEST_CASE("operator<< prints tensors and shapes as fmt does") {
  const tg::Tensor t = tg::from_vector<float>({1.f, -2.5f, 3.f, 0.125f}, {2, 2});
  std::ostringstream out;
  out << t << '\n' << t.shape() << ' ' << tg::Shape{} << ' ' << tg::Tensor();
  CHECK(out.str() == fmt::format("{}\n{} {} {}", t, t.shape(), tg::Shape{}, tg::Tensor()));
  CHECK(out.str() ==
        "tensor([[1, -2.5],\n [3, 0.125]], shape=[2,2], dtype=f32)\n[2,2] [] "
        "tensor(undefined)");
}
