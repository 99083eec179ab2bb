// Writes the seed corpora of the fuzz targets, each file made by the library itself:
//   build-fuzz/tests/fuzz/fuzz_seeds tests/fuzz/corpus
// (safetensors seeds have no .safetensors suffix, which .gitignore ignores).
// fills corpus/safetensors, corpus/nn_load, corpus/checkpoint, corpus/csv and
// corpus/model_config. Run it again
// when a file format changes; the output is the same bytes on every run.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "fuzz_models.hpp"

namespace {

namespace tg = tapegrad;
namespace fs = std::filesystem;

fs::path dir_for(const fs::path& root, const char* target) {
  const fs::path dir = root / target;
  fs::create_directories(dir);
  return dir;
}

// Tensors of both dtypes and of ranks 0 to 3 (a batch of sequences is (batch, time,
// features)), an empty one and metadata; and a file with nothing.
void write_safetensors_seeds(const fs::path& dir) {
  tg::save_safetensors((dir / "tensors").string(),
                       {{"a", tg::reshape(tg::arange(6), {2, 3})},
                        {"b", tg::arange(4, tg::f64)},
                        {"scalar", tg::full({}, 1.5)},
                        {"sequences", tg::reshape(tg::arange(8), {2, 2, 2})},
                        {"empty", tg::zeros({0, 3, 2})}},
                       {{"format", "pt"}, {"note", "seed"}});
  tg::save_safetensors((dir / "nothing").string(), {});
  tg::nn::save(fuzz::checkpoint_model(), (dir / "small_model").string());
}

// The reference model's weights (the success path) and a model with the same names but
// other shapes (the shape checks).
void write_nn_load_seeds(const fs::path& dir) {
  tg::nn::save(fuzz::reference_model(), (dir / "reference").string());
  tg::manual_seed(0);
  const tg::nn::Sequential narrow{tg::nn::SimpleRNN(1, 2, {.return_sequences = true}),
                                  tg::nn::SimpleRNN(2, 2), tg::nn::Dense(2, 1)};
  tg::nn::save(narrow, (dir / "narrow").string());
}

// A checkpoint per optimizer after one step, and one of an optimizer that never stepped.
void write_checkpoint_seeds(const fs::path& dir) {
  for (const std::string& name : fuzz::optimizer_names()) {
    tg::nn::Sequential model = fuzz::checkpoint_model();
    const auto opt = fuzz::make_optimizer(name, model);
    fuzz::train_one_step(model, *opt);
    tg::nn::save_checkpoint((dir / name).string(), model, *opt,
                            {.epoch = 1, .extra = {{"optimizer", name}, {"cell", "rnn"}}});
  }
  tg::nn::Sequential model = fuzz::checkpoint_model();
  const auto opt = fuzz::make_optimizer("adam", model);
  tg::nn::save_checkpoint((dir / "adam_fresh").string(), model, *opt, {});
}

void write_text(const fs::path& path, const char* text) {
  std::ofstream(path, std::ios::binary) << text;
}

// CSVLogger's log of a short fit (a header, numbers and "NA"), and series in the layouts
// read_csv_column documents: a header, none, \r\n, blank lines, spaces and quotes.
void write_csv_seeds(const fs::path& dir) {
  tg::nn::Sequential model = fuzz::checkpoint_model();
  const auto opt = fuzz::make_optimizer("adam", model);
  const tg::Tensor x = tg::rand({8, 2, 1});
  const tg::Tensor y = tg::rand({8, 1});
  tg::nn::FitOptions options{.epochs = 3, .batch_size = 4, .verbose = 0, .out = nullptr};
  options.callbacks.push_back(std::make_shared<tg::nn::CSVLogger>((dir / "log.csv").string()));
  tg::nn::fit(model, tg::nn::MSE(), *opt, x, y, options);
  write_text(dir / "series.csv", "month,value\n1949-01,112\n1949-02,118\n1949-03,132\n");
  write_text(dir / "no_header.csv", "1.5,2\r\n\r\n-3e2, 4 \r\n\"5\",+6\r\n");
}

// The config of each model of config_models(), after the byte that picks its tensors.
void write_model_config_seeds(const fs::path& dir) {
  const std::vector<fuzz::ConfigModel> models = fuzz::config_models();
  for (std::size_t i = 0; i < models.size(); ++i) {
    std::ofstream(dir / ("model_" + std::to_string(i)), std::ios::binary)
        << static_cast<char>(i) << tg::nn::model_config_json(*models[i].model);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR   (e.g. tests/fuzz/corpus)\n", argv[0]);
    return 2;
  }
  const fs::path root = argv[1];
  write_safetensors_seeds(dir_for(root, "safetensors"));
  write_nn_load_seeds(dir_for(root, "nn_load"));
  write_checkpoint_seeds(dir_for(root, "checkpoint"));
  write_csv_seeds(dir_for(root, "csv"));
  write_model_config_seeds(dir_for(root, "model_config"));
  return 0;
}
