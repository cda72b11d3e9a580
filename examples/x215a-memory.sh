#!/usr/bin/env bash
# The issue-5 memory check on the structure of a real 216-model recipe: runs
# ../shared/recipes/astolfomix/x215a-AstolfoMix-24101101-6e545a3.mecha (216 SDXL models, 215
# deltas, ties_sum_with_dropout with DELLA masks, TIES k=1 and a geometric median, dialect B,
# era fork-0.0.26-della) on generated SDXL-shaped models, once without a memory limit and once
# with --max-memory 2GiB, prints wall time and peak RSS of each, and checks that the two output
# files are byte-identical.
#
#   bash examples/x215a-memory.sh [DIVISOR] [MODELS_DIR]
#
# DIVISOR (default 16) divides every large dimension (16: 26 MiB per float16 model, 5.6 GB for
# the 216 models; 8: 104 MiB per model, 22 GB). The models are written once into MODELS_DIR
# (default: $XDG_CACHE_HOME or ~/.cache, mechac-x215a/dD) and reused; the recipe's file names
# are symbolic links to them (the base model for _x001, fine-tune i-2 for _x00i).
set -euo pipefail
cd "$(dirname "$0")/.."
divisor=${1:-16}
cache=${XDG_CACHE_HOME:-$HOME/.cache}
dir=${2:-$cache/mechac-x215a/d$divisor}
recipe=../shared/recipes/astolfomix/x215a-AstolfoMix-24101101-6e545a3.mecha
if [ ! -f "$recipe" ]; then
  echo "x215a-memory: $recipe not found (the shared recipes folder sits beside the repository)" >&2
  exit 2
fi
mkdir -p bin "$dir/raw"
# CGO_ENABLED=0: one static binary (pflag imports package net, whose resolver links libc
# through cgo when cgo is on).
CGO_ENABLED=0 go build -o bin/mechac ./cmd/mechac

# One fine-tune per model line after the base (216 model lines: _x001 is the base).
names=$(sed -n 's/^model "raw\/\([^"]*\)".*/\1/p' "$recipe")
count=$(($(echo "$names" | wc -l) - 1))
if [ ! -f "$dir/m$((count - 1)).safetensors" ]; then
  bin/mechac synth -q -o "$dir" --config sdxl-sgm --divisor "$divisor" --count "$count"
fi
i=0
for n in $names; do
  case $n in
  _x001-*) target=../base.safetensors ;;
  *) target=../m$i.safetensors; i=$((i + 1)) ;;
  esac
  ln -sfn "$target" "$dir/raw/$n"
done

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
run() { # run NAME [FLAGS...]
  local name=$1
  shift
  /usr/bin/time -f "$name: %e s wall, %U+%S s CPU, %M KiB peak RSS" \
    bin/mechac run -q "$recipe" --models-dir "$dir" -o "$out/$name.safetensors" "$@"
}
bin/mechac plan "$recipe" --models-dir "$dir" --max-memory 2GiB
run unlimited
run limited --max-memory 2GiB
if cmp -s "$out/unlimited.safetensors" "$out/limited.safetensors"; then
  echo "x215a-memory: outputs byte-identical"
else
  echo "x215a-memory: outputs DIFFER" >&2
  exit 1
fi
