# shellcheck shell=bash
# The workloads of tools/bench/reference/run_all.sh as flags of `tapegrad bench` and of the
# PyTorch references, for the scripts of this folder to source.
#   config_args NAME [EPOCHS]   the flags of config NAME (A B C D); EPOCHS replaces its epochs
config_args() {
  local flags epochs
  case $1 in
    A) flags="--cell rnn --hidden 64,32 --seq 10 --features 1 --samples 100 --batch 32" epochs=100 ;;
    B) flags="--cell rnn --hidden 256,256 --seq 50 --features 32 --samples 2048 --batch 64" epochs=3 ;;
    C) flags="--cell lstm --hidden 512 --seq 100 --features 128 --samples 1024 --batch 128" epochs=2 ;;
    D) flags="--cell gru --hidden 128 --seq 200 --features 16 --samples 512 --batch 32" epochs=2 ;;
    *) echo "unknown config $1 (A B C D)" >&2; return 2 ;;
  esac
  echo "$flags --epochs ${2:-$epochs}"
}
