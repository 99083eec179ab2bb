// tapegrad: the command-line program. Each subcommand lives in its own file of this folder and
// is a thin layer over the library; command.hpp says how one is made.
//
//   tapegrad train --epochs 50 --checkpoint run.ckpt        fit a model (train.cpp)
//   tapegrad info out/model.safetensors                     what a weights file or checkpoint holds
//   tapegrad info --cell gru --units 64,32                  parameter names, shapes and count
//   tapegrad predict out/model.safetensors                  the saved model's predictions
//   tapegrad dot --fold 2 -o graph.png                      the graph of one forward + loss
//   tapegrad gradflow --cell rnn,lstm,gru -o flow.svg       the vanishing gradient through time
//   tapegrad adding --steps 10,50,100,200 -o adding.svg     where each cell stops learning
//   tapegrad cv --units 8,16,32 --folds 5                   the hidden size by cross-validation
//   tapegrad run exp.cpp -- --epochs 50                     compile and run an experiment script
//   tapegrad bench --cell lstm --hidden 512 --epochs 2      epoch times, the references' JSON line
//   tapegrad export out/model.safetensors --to torch -o m.safetensors   PyTorch's names, layouts
#include <CLI/CLI.hpp>

#include <array>

#include <tapegrad/core/dist.hpp>
#include <tapegrad/core/version.hpp>

#include "command.hpp"

int main(int argc, char** argv) {
  using namespace tapegrad::cli;
  // Under mpirun or srun every rank runs this program; alone it is a world of one.
  tapegrad::dist::Session session(argc, argv);
  CLI::App app{"tapegrad: train recurrent networks from the command line", "tapegrad"};
  app.set_version_flag("--version", "tapegrad " + tapegrad::version());
  app.get_formatter()->column_width(34);
  app.footer("Run 'tapegrad <command> --help' for the flags of a command.");

  constexpr std::array<AddCommand, 10> commands{
      add_train_command,    add_predict_command, add_info_command, add_dot_command,
      add_gradflow_command, add_adding_command,  add_cv_command,   add_run_command,
      add_bench_command,    add_export_command};
  return run_program(app, commands, argc, argv);
}
