#!/usr/bin/env bash
# Regenerates the pictures of README's "For teaching" section into tools/teaching/, with the
# tapegrad program of a build tree (default build/; built first by tools/quickstart.sh):
#   tools/teaching/make_pictures.sh [BUILD_DIR]
# Every command is seeded, so the same build draws the same pictures.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
build=${1:-build}
[[ -x $build/tools/tapegrad ]] || BUILD_DIR=$build tools/quickstart.sh build
tapegrad=$build/tools/tapegrad
out=tools/teaching
scratch=$(mktemp -d "${TMPDIR:-/tmp}/tapegrad-teaching.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

set -x
"$tapegrad" dot --fold 2 --grads -o "$out/reference_folded.png"
"$tapegrad" dot --modules --grads --values -o "$out/reference_modules.png"
"$tapegrad" train --cell lstm --units 8 --data tests/fixtures/airline-passengers.csv --window 12 \
  --epochs 50 --verbose 0 --out-dir "$scratch/lstm"
"$tapegrad" dot --weights "$scratch/lstm/model.safetensors" \
  --data tests/fixtures/airline-passengers.csv --fold 2 --grads --expand-gates \
  -o "$out/trained_lstm_gates.png"
"$tapegrad" gradflow --cell rnn,lstm,gru --units 32 --steps 50 -o "$out/gradflow.png"
"$tapegrad" gradflow --cell rnn,lstm,gru --units 32 --steps 50 --epochs 20 \
  -o "$out/gradflow_trained.png"
"$tapegrad" train --epochs 100 --validation-split 0.2 --verbose 0 --out-dir "$scratch" \
  --plot "$out/loss.png"
# Where each cell stops learning, and clipping against exploding gradients: adding.png,
# adding.csv (README's table is made from it by tools/readme_numbers.sh), adding_clipping.png
# and adding_clipping.csv. About two minutes on two cores.
"$tapegrad" adding -o "$out/adding.png"
