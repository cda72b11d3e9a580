#!/usr/bin/env bash
# Builds mechac, writes small synthetic SDXL-shaped models (sdxl-sgm keys, every large
# dimension divided by 64), then checks and runs every example recipe in this folder.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bin examples/out
# CGO_ENABLED=0: one static binary (pflag imports package net, whose resolver links libc
# through cgo when cgo is on).
CGO_ENABLED=0 go build -o bin/mechac ./cmd/mechac
bin/mechac synth -o examples/models --config sdxl-sgm --count 3
for recipe in examples/*.mecha; do
  name=$(basename "$recipe" .mecha)
  bin/mechac check "$recipe"
  bin/mechac run "$recipe" -o "examples/out/$name.safetensors"
done
echo "examples: all recipes ran; outputs in examples/out/"
