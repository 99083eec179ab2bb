// nn::save/load and checkpoints: round trips into the parameters' own storage, files any
// safetensors reader understands, every kind of mismatch rejected with the model (and the
// optimizer and generator) left bit for bit as they were, and training resumed in a fresh
// process landing on exactly the weights of an uninterrupted run.
//
// The fresh process is this test binary itself: the case "resume worker" is skipped in a
// normal run; the resume test starts /proc/self/exe with --no-skip on that case and the
// worker's arguments in environment variables.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <tapegrad/tapegrad.hpp>

#include <test_util.hpp>

namespace tg = tapegrad;
namespace fs = std::filesystem;

using tg_test::contains;
using tg_test::message_of;
using tg_test::read_file;
using tg_test::ScratchDir;
using tg_test::write_file;

namespace {

std::string tensor_bytes(const tg::Tensor& t) {
  const tg::Tensor c = t.contiguous();
  const std::size_t n = static_cast<std::size_t>(c.numel()) * (c.dtype() == tg::f64 ? 8 : 4);
  const char* p = c.dtype() == tg::f64 ? reinterpret_cast<const char*>(c.data<double>())
                                       : reinterpret_cast<const char*>(c.data<float>());
  return std::string(p, n);
}

// Every parameter's name, dtype, shape and raw bytes.
std::vector<std::string> snapshot(const tg::nn::Module& m) {
  std::vector<std::string> out;
  for (const auto& [name, p] : m.named_parameters()) {
    out.push_back(fmt::format("{} {} {} ", name, p.dtype(), p.shape()) + tensor_bytes(p));
  }
  return out;
}

std::vector<std::string> snapshot(const tg::optim::Optimizer& opt) {
  std::vector<std::string> out;
  for (const auto& [key, t] : opt.state_dict()) {
    out.push_back(fmt::format("{} {} {} ", key, t.dtype(), t.shape()) + tensor_bytes(t));
  }
  return out;
}

tg::nn::Sequential small_model(int64_t units1 = 8, int64_t units2 = 4) {
  return tg::nn::Sequential{tg::nn::SimpleRNN(1, units1, {.return_sequences = true}),
                            tg::nn::SimpleRNN(units1, units2), tg::nn::Dense(units2, 1)};
}

tg::Tensor mse(const tg::Tensor& pred, const tg::Tensor& target) {
  return tg::mean(tg::pow(pred - target, 2.0));
}

// Rows `idx` of a contiguous f32 tensor, as a new tensor.
tg::Tensor rows(const tg::Tensor& t, const std::vector<int64_t>& idx) {
  const tg::Tensor c = t.contiguous();
  const int64_t row = c.numel() / c.shape()[0];
  std::vector<float> out;
  out.reserve(idx.size() * row);
  const float* p = c.data<float>();
  for (int64_t i : idx) out.insert(out.end(), p + i * row, p + (i + 1) * row);
  std::vector<int64_t> dims(c.shape().begin(), c.shape().end());
  dims[0] = static_cast<int64_t>(idx.size());
  return tg::from_vector(out, tg::Shape(dims));
}

// One epoch of shuffled mini-batches (the shuffle draws from the default generator).
void train_epoch(tg::nn::Module& model, tg::optim::Optimizer& opt, const tg::Tensor& X,
                 const tg::Tensor& y, int64_t batch_size) {
  const std::vector<int64_t> perm = tg::randperm(X.shape()[0]);
  for (std::size_t start = 0; start < perm.size(); start += batch_size) {
    const std::size_t stop = std::min(perm.size(), start + batch_size);
    const std::vector<int64_t> idx(perm.begin() + start, perm.begin() + stop);
    tg::Tensor loss = mse(model(rows(X, idx)), rows(y, idx));
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
}

// A model trained for a step so that parameters and Adam's slots are not at their init.
struct Trained {
  tg::nn::Sequential model = small_model();
  tg::optim::Adam opt{model.named_parameters(), {.lr = 1e-2}};
  Trained() {
    const tg::Tensor X = tg::rand({6, 5, 1}), y = tg::rand({6, 1});
    train_epoch(model, opt, X, y, 3);
  }
};

}  // namespace

TEST_CASE("nn::save writes a plain safetensors file named by named_parameters()") {
  ScratchDir dir("tapegrad-serialize");
  tg::manual_seed(1);
  tg::nn::Sequential model = small_model();
  const std::string path = dir / "model.safetensors";
  tg::nn::save(model, path);

  // Parse it by hand, as any reader does: u64 header length, JSON, data.
  const std::string bytes = read_file(path);
  REQUIRE(bytes.size() >= 8);
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  const nlohmann::json header = nlohmann::json::parse(bytes.substr(8, n));
  std::vector<std::string> names;
  for (const auto& [key, value] : header.items()) {
    if (key != "__metadata__") names.push_back(key);
  }
  std::vector<std::string> expected;
  for (const auto& [name, p] : model.named_parameters()) expected.push_back(name);
  std::sort(expected.begin(), expected.end());
  CHECK(names == expected);
  CHECK(header.contains("0.cell.kernel"));
  CHECK(header.contains("2.kernel"));
  for (const auto& [name, p] : model.named_parameters()) {
    const auto& e = header.at(name);
    CHECK(e.at("dtype") == "F32");
    CHECK(e.at("shape").get<std::vector<int64_t>>() ==
          std::vector<int64_t>(p.shape().begin(), p.shape().end()));
    const auto off = e.at("data_offsets").get<std::vector<std::uint64_t>>();
    CHECK(bytes.substr(8 + n + off[0], off[1] - off[0]) == tensor_bytes(p));
  }
  // And through the library's reader.
  const auto loaded = tg::load_safetensors(path);
  for (const auto& [name, p] : model.named_parameters()) {
    CHECK(tensor_bytes(loaded.at(name)) == tensor_bytes(p));
  }
}

TEST_CASE("nn::load copies into the existing storage, so every handle sees the values") {
  ScratchDir dir("tapegrad-serialize");
  tg::manual_seed(1);
  tg::nn::Sequential a = small_model();
  tg::manual_seed(2);
  auto dense = std::make_shared<tg::nn::Dense>(4, 1);
  tg::nn::Sequential b{tg::nn::SimpleRNN(1, 8, {.return_sequences = true}), tg::nn::SimpleRNN(8, 4),
                       dense};
  REQUIRE(snapshot(a) != snapshot(b));
  const tg::Tensor held = dense->kernel;  // a handle held elsewhere
  const float* storage = held.data<float>();
  tg::optim::Adam opt(b.named_parameters());

  tg::nn::save(a, dir / "a.safetensors");
  tg::nn::load(b, dir / "a.safetensors");
  CHECK(snapshot(a) == snapshot(b));
  CHECK(held.data<float>() == storage);
  for (const auto& [name, p] : a.named_parameters()) {
    if (name == "2.kernel") CHECK(tensor_bytes(held) == tensor_bytes(p));
  }
  CHECK(tensor_bytes(opt.params().tensor(opt.params().find("2.kernel"))) ==
        tensor_bytes(dense->kernel));
  // f64 models round-trip too.
  a.to(tg::f64);
  b.to(tg::f64);
  tg::nn::save(a, dir / "a64.safetensors");
  tg::manual_seed(3);
  tg::nn::Sequential c = small_model();
  c.to(tg::f64);
  tg::nn::load(c, dir / "a64.safetensors");
  CHECK(snapshot(a) == snapshot(c));
}

TEST_CASE("nn::load rejects any mismatch and leaves the model exactly as it was") {
  ScratchDir dir("tapegrad-serialize");
  tg::manual_seed(4);
  tg::nn::Sequential model = small_model();
  const std::vector<std::string> before = snapshot(model);

  SUBCASE("a missing parameter is named") {
    tg::nn::Sequential fewer{tg::nn::SimpleRNN(1, 8, {.return_sequences = true}),
                             tg::nn::SimpleRNN(8, 4)};
    tg::nn::save(fewer, dir / "f.safetensors");
    const std::string msg =
        message_of<tg::IOError>([&] { tg::nn::load(model, dir / "f.safetensors"); });
    CHECK(contains(msg, "'2.kernel'"));
    CHECK(contains(msg, "'2.bias'"));
    CHECK(contains(msg, "f.safetensors"));
  }
  SUBCASE("unknown tensors are named") {
    std::map<std::string, tg::Tensor> m;
    for (const auto& [name, p] : model.named_parameters()) m.emplace(name, tg::zeros(p.shape()));
    m.emplace("3.kernel", tg::zeros({2, 2}));
    m.emplace("extra", tg::zeros({1}));
    tg::save_safetensors(dir / "u.safetensors", m);
    const std::string msg =
        message_of<tg::IOError>([&] { tg::nn::load(model, dir / "u.safetensors"); });
    CHECK(contains(msg, "'3.kernel'"));
    CHECK(contains(msg, "'extra'"));
    CHECK(contains(msg, "unknown"));
  }
  SUBCASE("a shape mismatch names the tensor and both shapes") {
    tg::nn::Sequential wider = small_model(8, 5);
    tg::nn::save(wider, dir / "w.safetensors");
    const std::string msg =
        message_of<tg::ShapeError>([&] { tg::nn::load(model, dir / "w.safetensors"); });
    CHECK(contains(msg, "'1.cell.kernel'"));
    CHECK(contains(msg, "[8,5]"));
    CHECK(contains(msg, "[8,4]"));
  }
  SUBCASE("a dtype mismatch is named") {
    tg::nn::Sequential other = small_model();
    other.to(tg::f64);
    tg::nn::save(other, dir / "d.safetensors");
    const std::string msg =
        message_of<tg::DTypeError>([&] { tg::nn::load(model, dir / "d.safetensors"); });
    CHECK(contains(msg, "'0.cell.kernel'"));
    CHECK(contains(msg, "f64"));
  }
  SUBCASE("a missing file, a truncated file, garbage") {
    CHECK_THROWS_AS(tg::nn::load(model, dir / "nope.safetensors"), tg::IOError);
    tg::nn::Sequential same = small_model();
    tg::nn::save(same, dir / "t.safetensors");
    const std::string bytes = read_file(dir / "t.safetensors");
    write_file(dir / "t.safetensors", bytes.substr(0, bytes.size() - 7));
    CHECK_THROWS_AS(tg::nn::load(model, dir / "t.safetensors"), tg::IOError);
    write_file(dir / "g.safetensors", "not a safetensors file at all");
    CHECK_THROWS_AS(tg::nn::load(model, dir / "g.safetensors"), tg::IOError);
  }
  SUBCASE("a checkpoint is not a weights file") {
    Trained t;
    tg::nn::save_checkpoint(dir / "c.safetensors", t.model, t.opt, {.epoch = 1});
    const std::string msg =
        message_of<tg::IOError>([&] { tg::nn::load(model, dir / "c.safetensors"); });
    CHECK_FALSE(contains(msg, "'model.0.cell.kernel'"));  // missing names come first
    CHECK(contains(msg, "'0.cell.kernel'"));
  }
  CHECK(snapshot(model) == before);
}

TEST_CASE("checkpoints restore the model, the optimizer, the epoch and the generator") {
  ScratchDir dir("tapegrad-serialize");
  tg::manual_seed(5);
  Trained a;
  tg::manual_seed(77);
  (void)tg::rand({3});
  const std::string rng_at_save = tg::default_generator().state();
  const std::string path = dir / "ckpt.safetensors";
  tg::nn::save_checkpoint(path, a.model, a.opt,
                          {.epoch = 7, .extra = {{"cell", "rnn"}, {"units", "8,4"}}});

  // Plain safetensors with the documented names and metadata.
  std::map<std::string, std::string> metadata;
  const auto all = tg::load_safetensors(path, &metadata);
  CHECK(all.count("model.0.cell.kernel") == 1);
  CHECK(all.count("model.2.bias") == 1);
  CHECK(all.count("optimizer.step") == 1);
  CHECK(all.count("optimizer.lr") == 1);
  CHECK(all.count("optimizer.0.cell.kernel.m") + all.count("optimizer.0.cell.kernel.v") >= 1);
  CHECK(metadata.at("format") == "tapegrad.checkpoint");
  CHECK(metadata.at("format_version") == "1");
  CHECK(metadata.at("epoch") == "7");
  CHECK(metadata.at("rng_state") == rng_at_save);
  CHECK(metadata.at("extra.cell") == "rnn");
  const tg::nn::CheckpointInfo peek = tg::nn::read_checkpoint_info(path);
  CHECK(peek.epoch == 7);
  CHECK(peek.extra.at("units") == "8,4");

  tg::manual_seed(6);
  tg::nn::Sequential model = small_model();
  tg::optim::Adam opt(model.named_parameters(), {.lr = 1e-2});
  REQUIRE(snapshot(model) != snapshot(a.model));
  const tg::nn::CheckpointInfo info = tg::nn::load_checkpoint(path, model, opt);
  CHECK(info.epoch == 7);
  CHECK(info.extra.at("cell") == "rnn");
  CHECK(snapshot(model) == snapshot(a.model));
  CHECK(snapshot(opt) == snapshot(a.opt));
  CHECK(opt.iterations() == a.opt.iterations());
  CHECK(tg::default_generator().state() == rng_at_save);
}

TEST_CASE("a bad checkpoint leaves model, optimizer and generator untouched") {
  ScratchDir dir("tapegrad-serialize");
  tg::manual_seed(8);
  Trained a;
  const std::string path = dir / "ckpt.safetensors";
  tg::nn::save_checkpoint(path, a.model, a.opt, {.epoch = 3});

  tg::manual_seed(9);
  Trained b;
  const auto model_before = snapshot(b.model);
  const auto opt_before = snapshot(b.opt);
  const std::string rng_before = tg::default_generator().state();

  SUBCASE("another optimizer's state") {
    tg::optim::SGD sgd(b.model.named_parameters(), {.lr = 0.1, .momentum = 0.9});
    const auto t = tg::rand({2, 5, 1});
    tg::Tensor loss = mse(b.model(t), tg::zeros({2, 1}));
    loss.backward();
    sgd.step();  // momentum slots exist now; the parameters moved, so take a new snapshot
    const auto moved = snapshot(b.model);
    const auto sgd_before = snapshot(sgd);
    const std::string rng = tg::default_generator().state();
    const std::string msg =
        message_of<tg::ValueError>([&] { tg::nn::load_checkpoint(path, b.model, sgd); });
    CHECK(contains(msg, "ckpt.safetensors"));
    CHECK(contains(msg, "optimizer state"));
    CHECK(snapshot(b.model) == moved);
    CHECK(snapshot(sgd) == sgd_before);
    CHECK(tg::default_generator().state() == rng);
    return;
  }
  SUBCASE("another model") {
    tg::nn::Sequential wider = small_model(8, 6);
    tg::optim::Adam opt(wider.named_parameters());
    const auto w_before = snapshot(wider);
    const std::string msg =
        message_of<tg::ShapeError>([&] { tg::nn::load_checkpoint(path, wider, opt); });
    CHECK(contains(msg, "'model.1.cell.kernel'"));
    CHECK(snapshot(wider) == w_before);
  }
  SUBCASE("a weights file is not a checkpoint") {
    tg::nn::save(a.model, dir / "w.safetensors");
    const std::string msg = message_of<tg::IOError>(
        [&] { tg::nn::load_checkpoint(dir / "w.safetensors", b.model, b.opt); });
    CHECK(contains(msg, "not a tapegrad checkpoint"));
  }
  SUBCASE("another format version, a bad epoch, a bad generator state, unknown tensors") {
    std::map<std::string, std::string> metadata;
    auto tensors = tg::load_safetensors(path, &metadata);
    auto write = [&](std::map<std::string, std::string> md, std::map<std::string, tg::Tensor> ts) {
      tg::save_safetensors(dir / "x.safetensors", ts, md);
      return dir / "x.safetensors";
    };
    auto md = metadata;
    md["format_version"] = "2";
    CHECK(contains(message_of<tg::IOError>(
                       [&] { tg::nn::load_checkpoint(write(md, tensors), b.model, b.opt); }),
                   "version 2"));
    md = metadata;
    md["epoch"] = "three";
    CHECK_THROWS_AS(tg::nn::load_checkpoint(write(md, tensors), b.model, b.opt), tg::IOError);
    md = metadata;
    md["rng_state"] = "garbage";
    CHECK_THROWS_AS(tg::nn::load_checkpoint(write(md, tensors), b.model, b.opt), tg::IOError);
    md = metadata;
    md.erase("rng_state");
    CHECK_THROWS_AS(tg::nn::load_checkpoint(write(md, tensors), b.model, b.opt), tg::IOError);
    auto ts = tensors;
    ts.emplace("stray", tg::zeros({1}));
    CHECK(contains(message_of<tg::IOError>(
                       [&] { tg::nn::load_checkpoint(write(metadata, ts), b.model, b.opt); }),
                   "'stray'"));
    ts = tensors;
    ts.erase("optimizer.step");
    CHECK(contains(message_of<tg::ValueError>(
                       [&] { tg::nn::load_checkpoint(write(metadata, ts), b.model, b.opt); }),
                   "step"));
    ts = tensors;
    ts["optimizer.2.kernel.m"] = tg::zeros({3, 3});
    CHECK_THROWS_AS(tg::nn::load_checkpoint(write(metadata, ts), b.model, b.opt), tg::ShapeError);
  }
  CHECK(snapshot(b.model) == model_before);
  CHECK(snapshot(b.opt) == opt_before);
  CHECK(tg::default_generator().state() == rng_before);
}

namespace {

// The run both processes share: everything from seed 0, built in the same order.
constexpr int64_t kSamples = 40;
constexpr int64_t kBatch = 8;

struct Run {
  tg::Tensor X, y;
  tg::nn::Sequential model;
  tg::optim::Adam opt;
  Run()
      : X((tg::manual_seed(0), tg::rand({kSamples, 6, 1}))),
        y(tg::rand({kSamples, 1})),
        model(small_model(12, 6)),
        opt(model.named_parameters(), {.lr = 1e-2}) {}
};

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs this binary's worker case in a new process; returns its exit status.
int spawn_worker(int epochs, const std::string& resume, const std::string& checkpoint,
                 const std::string& out) {
  const std::string self = fs::read_symlink("/proc/self/exe").string();
  const std::string cmd = fmt::format(
      "TAPEGRAD_WORKER_EPOCHS={} TAPEGRAD_WORKER_RESUME={} TAPEGRAD_WORKER_CHECKPOINT={} "
      "TAPEGRAD_WORKER_OUT={} {} --no-skip --test-case='serialize: resume worker' "
      "--no-version --minimal >/dev/null 2>&1",
      epochs, shell_quote(resume), shell_quote(checkpoint), shell_quote(out), shell_quote(self));
  return std::system(cmd.c_str());
}

}  // namespace

// Trains until epoch TAPEGRAD_WORKER_EPOCHS, first resuming from TAPEGRAD_WORKER_RESUME if
// set, then saves a checkpoint (TAPEGRAD_WORKER_CHECKPOINT) and the weights
// (TAPEGRAD_WORKER_OUT).
TEST_CASE("serialize: resume worker" * doctest::skip()) {
  const std::string out = env("TAPEGRAD_WORKER_OUT");
  if (out.empty()) return;
  tg::set_num_threads(1);
  Run run;
  int epoch = 0;
  if (!env("TAPEGRAD_WORKER_RESUME").empty()) {
    epoch = tg::nn::load_checkpoint(env("TAPEGRAD_WORKER_RESUME"), run.model, run.opt).epoch;
  }
  const int epochs = std::stoi(env("TAPEGRAD_WORKER_EPOCHS"));
  for (; epoch < epochs; ++epoch) train_epoch(run.model, run.opt, run.X, run.y, kBatch);
  if (!env("TAPEGRAD_WORKER_CHECKPOINT").empty()) {
    tg::nn::save_checkpoint(env("TAPEGRAD_WORKER_CHECKPOINT"), run.model, run.opt,
                            {.epoch = epoch});
  }
  tg::nn::save(run.model, out);
}

TEST_CASE("10 epochs straight == 5 epochs, checkpoint, 5 more in a fresh process, bit for bit") {
  ScratchDir dir("tapegrad-serialize");
  REQUIRE(spawn_worker(10, "", "", dir / "straight.safetensors") == 0);
  REQUIRE(spawn_worker(5, "", dir / "ckpt.safetensors", dir / "half.safetensors") == 0);
  REQUIRE(tg::nn::read_checkpoint_info(dir / "ckpt.safetensors").epoch == 5);
  REQUIRE(spawn_worker(10, dir / "ckpt.safetensors", "", dir / "resumed.safetensors") == 0);

  const std::string straight = read_file(dir / "straight.safetensors");
  const std::string half = read_file(dir / "half.safetensors");
  const std::string resumed = read_file(dir / "resumed.safetensors");
  REQUIRE(!straight.empty());
  CHECK(half != straight);  // training moved the weights between epoch 5 and 10
  CHECK(resumed == straight);

  // Resuming without the generator state would shuffle differently: the shuffle matters.
  tg::set_num_threads(1);
  Run run;
  tg::nn::load_checkpoint(dir / "ckpt.safetensors", run.model, run.opt);
  tg::manual_seed(12345);
  for (int epoch = 5; epoch < 10; ++epoch) train_epoch(run.model, run.opt, run.X, run.y, kBatch);
  tg::nn::save(run.model, dir / "reseeded.safetensors");
  CHECK(read_file(dir / "reseeded.safetensors") != straight);
}
