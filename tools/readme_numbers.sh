#!/usr/bin/env bash
# The numbers README.md and tools/examples/README.md quote from tapegrad's programs, measured
# again by those programs:
#   tools/readme_numbers.sh TAPEGRAD_BIN           rewrite the READMEs with fresh numbers
#   tools/readme_numbers.sh --check TAPEGRAD_BIN   exit 1, with a diff, when a README is stale
# TAPEGRAD_BIN is the tapegrad program of a build tree (build/tools/tapegrad). ctest runs
# --check (test readme_numbers), so a change that moves a number fails until this script is
# rerun and its result committed.
#
# In a README a quoted number sits between <!--n:KEY--> and <!--/n--> on one line; a whole
# block of output sits between a line <!--n:KEY--> and a line <!--/n-->. Each KEY is set by
# `put` below. Every run is seeded and tapegrad's results do not depend on the CPU, so the
# numbers are the same on every machine; only timings (a progress bar's "2ms/step", the
# "Time:" line) vary, and --check ignores them.
set -euo pipefail

check=false
if [[ ${1:-} == --check ]]; then
  check=true
  shift
fi
if [[ $# -ne 1 || ! -x $1 ]]; then
  echo "usage: tools/readme_numbers.sh [--check] TAPEGRAD_BIN" >&2
  exit 2
fi
tapegrad=$(realpath "$1")
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/tapegrad-readme.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
values=$scratch/values
mkdir "$values"
airline=tests/fixtures/airline-passengers.csv

# put KEY VALUE: the text that replaces KEY's marked region.
put() { printf '%s' "$2" >"$values/$1"; }
# put_block KEY: standard input as a fenced code block.
put_block() { { printf '```\n'; cat; printf '```\n'; } >"$values/$1"; }
example() { "$tapegrad" run "tools/examples/$1.cpp" -- "${@:2}"; }
# min_max FORMAT: "min-max" of the numbers on standard input, each printed with FORMAT.
min_max() { sort -g | awk -v f="$1" 'NR == 1 {lo = $1} {hi = $1} END {printf f "-" f, lo, hi}'; }
# field_after WORD: the word after WORD, for each line of standard input that has it.
field_after() { awk -v w="$1" '{for (i = 1; i < NF; ++i) if ($i == w) {print $(i + 1); next}}'; }

# The main job: what `tools/quickstart.sh run` prints at the end.
(cd "$scratch" && "$tapegrad" train) >"$scratch/train.txt"
tail -n 5 "$scratch/train.txt" | put_block train_tail
put reference_loss "$(grep '^Final loss' "$scratch/train.txt" | field_after loss:)"

# The quick start's LSTM on the airline series, and predict's metrics beside the naive forecast.
"$tapegrad" train --cell lstm --units 32 --data "$airline" --window 12 --validation-split 0.2 \
  --optimizer gd --lr 0.1 --clip-norm 1 --verbose 0 --out-dir "$scratch/airline" >/dev/null
{
  printf '%s\n' "build/tools/tapegrad predict model.safetensors \\" \
    "    --data $airline -o pred.csv" "..."
  "$tapegrad" predict "$scratch/airline/model.safetensors" --data "$airline" \
    -o "$scratch/airline/pred.csv" | sed -n '/^Metrics of/,$p'
} | put_block predict_metrics

# The vanishing gradient, as make_pictures.sh measures it for the teaching pictures:
# |dL/dh_t| at the first and last of 50 steps, untrained and after 20 epochs.
"$tapegrad" gradflow --cell rnn,lstm,gru --units 32 --steps 50 -o "$scratch/flow.svg" >/dev/null
"$tapegrad" gradflow --cell rnn,lstm,gru --units 32 --steps 50 --epochs 20 \
  -o "$scratch/flow_trained.svg" >/dev/null
awk -F, '
  # 7.9e-3 below 0.1, 0.84 above: two significant digits either way.
  function short(x,   parts) {
    if (x >= 0.1) return sprintf("%.2f", x)
    split(sprintf("%.1e", x), parts, "e")
    return parts[1] "e" (parts[2] + 0)
  }
  FNR == 1 { ++file; next }
  $2 == 0 || $2 == 49 { v[file, $1, $2] = short($3); if (file == 1 && $2 == 0) order[++n] = $1 }
  END {
    printf "| cell      | untrained t=0 | t=49  | after 20 epochs t=0 | t=49  |\n"
    printf "| --------- | ------------- | ----- | ------------------- | ----- |\n"
    for (i = 1; i <= n; ++i) {
      c = order[i]
      printf "| %-9s | %-13s | %-5s | %-19s | %-5s |\n", c, v[1, c, 0], v[1, c, 49], v[2, c, 0], v[2, c, 49]
    }
  }' "$scratch/flow.csv" "$scratch/flow_trained.csv" >"$values/gradflow_table"

# The reference model's model.summary({10, 1}) (README.md), and its loss by fit
# (tools/examples/README.md).
example reference_fit --epochs 100 --verbose 0 >"$scratch/reference_fit.txt"
awk '/^Model:/ {on = 1} on {print} on && /^Non-trainable/ {getline; print; exit}' \
  "$scratch/reference_fit.txt" | put_block summary_table
put reference_fit_loss "$(field_after loss: <"$scratch/reference_fit.txt")"

example reference_manual --epochs 100 --clip-norm 1 >"$scratch/manual.txt"
# "epoch  97/100  loss 0.0165972  clipped 1/4 steps"
put manual_clipped "$(awk '$1 == "epoch" {split($6, s, "/"); n += s[1]; all += s[2]} END {print n " of the " all}' "$scratch/manual.txt")"
put manual_loss "$(tail -n 1 "$scratch/manual.txt" | awk '{printf "%.4f", $4}')"

# "adding problem, T = 50: test MSE 0.000401, predict-the-mean baseline 0.158 (394x lower)"
for seed in 0 1 2 3 4; do
  example indrnn --steps 50 --epochs 30 --seed "$seed" | grep '^adding problem' >>"$scratch/indrnn.txt"
done
head -n 1 "$scratch/indrnn.txt" >"$scratch/indrnn0.txt"
put indrnn_mse "$(field_after MSE <"$scratch/indrnn0.txt" | tr -d ,)"
put indrnn_baseline "$(field_after baseline <"$scratch/indrnn0.txt")"
put indrnn_ratio "$(sed -E 's/.*\(([0-9]+x) lower\).*/\1/' "$scratch/indrnn0.txt")"
put indrnn_seeds_mse "$(field_after MSE <"$scratch/indrnn.txt" | tr -d , | min_max %.3g)"
put indrnn_seeds_ratio "$(sed -E 's/.*\(([0-9]+)x lower\).*/\1/' "$scratch/indrnn.txt" | min_max %dx)"

# The airline forecast: seed 0's table, and the LSTM's test RMSE over seeds 0-4.
example airline_forecast --out "$scratch/forecast.svg" | grep RMSE | put_block airline_table
for target in change level; do
  for seed in 0 1 2 3 4; do
    example airline_forecast --target "$target" --seed "$seed" --out "$scratch/forecast.svg" |
      grep '^  LSTM' | field_after RMSE
  done | min_max "$([[ $target == change ]] && echo %.1f || echo %.0f)" >"$values/airline_seeds_$target"
done

example choose_hidden_size --units 4,8,16,32 --folds 5 >"$scratch/choose.txt"
# "best: units=32 (mean 0.003113, std 0.002012)" -> "32: mean 0.00311, std 0.00201"
put choose_best "$(sed -nE 's/^best: units=([0-9]+) \(mean ([0-9.e-]+), std ([0-9.e-]+)\)/\1 \2 \3/p' "$scratch/choose.txt" |
  awk '{printf "%s: mean %.3g, std %.3g", $1, $2, $3}')"
put choose_one_se "$(sed -nE 's/^one-standard-error choice: units=([0-9]+) \(mean ([0-9.e-]+).*/\1 \2/p' "$scratch/choose.txt" |
  awk '{printf "%s: mean %.3g", $1, $2}')"

# The adding problem (README's "For teaching"): its tables and the clipping numbers are read
# from the CSVs tools/teaching/make_pictures.sh writes beside the pictures and commits, not
# measured again here: `tapegrad adding` takes about two minutes, too long for ctest's
# --check. So --check holds the README to the committed CSVs, and make_pictures.sh followed
# by this script updates both.
adding=tools/teaching/adding.csv
# mean (min-max) of the test MSE per cell and length; then the epochs each seed took to reach
# MSE 0.01 ("-": never).
adding_table() {
  awk -F, -v what="$1" '
    function title(c) { return c == "rnn" ? "SimpleRNN" : c == "lstm" ? "LSTM" : "GRU" }
    NR == 1 { next }
    {
      if (!($1 in seen)) { seen[$1] = 1; cells[++nc] = $1 }
      if (!($2 in has)) { has[$2] = 1; lengths[++nl] = $2 }
      k = $1 SUBSEP $2
      n[k]++; sum[k] += $4
      if (n[k] == 1 || $4 < lo[k]) lo[k] = $4
      if (n[k] == 1 || $4 > hi[k]) hi[k] = $4
      ep[k] = ep[k] (n[k] > 1 ? ", " : "") ($5 == "" ? "-" : $5)
    }
    END {
      head = "| cell     "; rule = "| ---------"
      for (j = 1; j <= nl; ++j) { head = head " | T = " lengths[j]; rule = rule " | ---" }
      print head " |"; print rule " |"
      for (i = 1; i <= nc; ++i) {
        row = sprintf("| %-9s", title(cells[i]))
        for (j = 1; j <= nl; ++j) {
          k = cells[i] SUBSEP lengths[j]
          cell = what == "mse" ? sprintf("%.2g (%.2g-%.2g)", sum[k] / n[k], lo[k], hi[k]) : ep[k]
          row = row " | " cell
        }
        print row " |"
      }
    }' "$adding"
}
adding_table mse >"$values/adding_mse_table"
adding_table epochs >"$values/adding_epochs_table"
clipping=tools/teaching/adding_clipping.csv
# "inf at update 4": where the unclipped loss stopped being finite; its largest finite value;
# the clipped run's mean loss over its last 16 updates (an epoch of 500 sequences in batches of 32).
put adding_clip_end "$(awk -F, 'NR > 1 && $2 != "" {last = $2; at = $1} END {print last " at update " at}' "$clipping")"
put adding_clip_peak "$(awk -F, 'NR > 1 && $2 != "" && $2 != "inf" && $2 != "nan" && $2 + 0 > peak {peak = $2 + 0} END {printf "%.2g", peak}' "$clipping")"
put adding_clip_final "$(tail -n 16 "$clipping" | awk -F, '{sum += $3} END {printf "%.3g", sum / NR}')"

# Rewrites the marked regions of the file $1 into $2; a key without a value fails.
fill() {
  awk -v dir="$values" '
    function value(key,   line, text, file) {
      file = dir "/" key
      if ((getline text < file) < 0) {
        printf "readme_numbers.sh: no value for %s\n", key > "/dev/stderr"
        exit 3
      }
      while ((getline line < file) > 0) text = text "\n" line
      close(file)
      return text
    }
    skipping { if ($0 == "<!--/n-->") { skipping = 0; print } ; next }
    /^<!--n:[a-z0-9_]+-->$/ {
      print
      key = substr($0, 7, length($0) - 9)
      print value(key)
      skipping = 1
      next
    }
    {
      out = ""
      while (match($0, /<!--n:[a-z0-9_]+-->[^<]*<!--\/n-->/)) {
        region = substr($0, RSTART, RLENGTH)
        key = substr(region, 7, index(region, "-->") - 7)
        out = out substr($0, 1, RSTART - 1) "<!--n:" key "-->" value(key) "<!--/n-->"
        $0 = substr($0, RSTART + RLENGTH)
      }
      print out $0
    }' "$1" >"$2"
}

# Timings differ from run to run: --check compares the texts without them.
without_timings() { sed -E 's#[0-9.]+[mu]?s [0-9.]+[mu]?s/step#T/step#g; s#^Time: .*#Time: T#' "$1"; }

# A README whose numbers are all current keeps its text, timings included (so a run on a
# busy machine does not replace them).
stale=0
for readme in README.md tools/examples/README.md; do
  fresh=$scratch/fresh.md
  fill "$readme" "$fresh"
  if cmp -s <(without_timings "$readme") <(without_timings "$fresh"); then
    continue
  elif $check; then
    diff -u --label "$readme (committed)" --label "$readme (measured now)" \
      <(without_timings "$readme") <(without_timings "$fresh") || true
    stale=1
  else
    cat "$fresh" >"$readme"
    echo "updated $readme"
  fi
done
if ((stale)); then
  echo "readme_numbers.sh: numbers above are stale; rerun tools/readme_numbers.sh $1 and commit" >&2
  exit 1
fi
