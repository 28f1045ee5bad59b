#!/usr/bin/env bash
# The checks a candidate default passes before it ships (docs/TRAINING.md, issue 10), each as its own
# JSON in OUT: bash benchmarks/ship_checks.sh MODEL_DIR OUT KIND...
#   sources     the pass key in 1 of 100 documents of 256 bytes, the model's own filler (20 trials)
#   sources-h78 the same with the documents cut from runs/eval/prose (never trained on)
#   sources-h78-60 sources-h78 with 60 trials (about 3 minutes): 20 trials moved +-.2 between saves 10 steps
#               apart, too coarse to pick a save by (docs/TRAINING.md, forty-fourth session)
#   sources1000 the pass key in 1 of 1,000 documents, 5 trials, seed 0 (about 4 minutes)
#   sources1000-s1 the same, 10 trials, seed 1 (about 8 minutes)
#   syn16k      synthetic passkey at 16K tokens, start / middle / end, n 10
#   synall      synthetic passkey at 1K, 4K, 16K, 32K and 64K tokens, n 10 (about 8 minutes)
#   syn128k-end synthetic passkey at 128K tokens, the end cell, n 20 (about 7 minutes)
#   needles     needles in runs/eval/prose at 4K, 8K, 16K tokens, seen and held-out, n 20 (about 3.5 minutes)
#   needles64k  the same at 64K tokens (about 5 minutes)
#   facts8      8 named facts at 8K tokens in runs/eval/prose, n 60
#   track8k     entity tracking at 8K tokens in runs/eval/prose, n 20
#   track60     the same, n 60 (about 3 minutes)
#   curve       2, 8, 32 and 128 named facts at 8K tokens in runs/eval/prose, n 20 (the facts curve)
#   needles-s1, facts8-s1, needles64k-s1, track60-s1, sources-h78-s1, syn128k-end-s1  the same on seed 1
#               (other needles, facts, places, files and values)
# runs/eval/prose: every site-packages *.dist-info/METADATA over 3,000 bytes but docqa's, as <name>.txt.
# One thread each (DOCQA_THREADS), so that a training run keeps the other core. Two runs of this script
# must not share an OUT: each writes OUT/KIND.json.tmp and moves it into place.
set -euo pipefail
command -v docqa > /dev/null || { echo "docqa is not on PATH: activate the project's venv (. .venv/bin/activate)" >&2; exit 1; }
model=$1 out=$2; shift 2
mkdir -p "$out"
export DOCQA_THREADS=${DOCQA_THREADS:-1}
hay=runs/eval/prose
for kind in "$@"; do
  seed=0 base=$kind
  case $kind in needles-s1|needles64k-s1|facts8-s1|track60-s1|sources-h78-s1|syn128k-end-s1) seed=1 base=${kind%-s1} ;; esac
  case $base in
    sources) docqa bench sources --model "$model" --n-docs 100 --trials 20 --json ;;
    sources-h78) docqa bench sources --model "$model" --n-docs 100 --trials 20 --haystack $hay --seed $seed --json ;;
    sources-h78-60) docqa bench sources --model "$model" --n-docs 100 --trials 60 --haystack $hay --seed 0 --json ;;
    sources1000) docqa bench sources --model "$model" --n-docs 1000 --trials 5 --json ;;
    sources1000-s1) docqa bench sources --model "$model" --n-docs 1000 --trials 10 --seed 1 --json ;;
    syn16k) docqa bench recall --model "$model" --lengths 16384 --facts '' --n 10 --json ;;
    synall) docqa bench recall --model "$model" --lengths 1024,4096,16384,32768,65536 --facts '' --n 10 --json ;;
    syn128k-end) docqa bench recall --model "$model" --lengths 131072 --depths end --facts '' --n 20 --seed $seed --json ;;
    needles) docqa bench recall --model "$model" --haystack $hay --lengths 4096,8192,16384 --facts '' --no-track --n 20 --seed $seed --json ;;
    needles64k) docqa bench recall --model "$model" --haystack $hay --lengths 65536 --facts '' --no-track --n 20 --seed $seed --json ;;
    track8k) docqa bench recall --model "$model" --haystack $hay --lengths '' --facts '' --facts-length 8192 --n 20 --json ;;
    track60) docqa bench recall --model "$model" --haystack $hay --lengths '' --facts '' --facts-length 8192 --n 60 --seed $seed --json ;;
    curve) docqa bench recall --model "$model" --haystack $hay --lengths '' --facts 2,8,32,128 --facts-length 8192 --no-track --n 20 --json ;;
    facts8) docqa bench recall --model "$model" --haystack $hay --lengths '' --facts 8 --facts-length 8192 --no-track --n 60 --seed $seed --json ;;
    *) echo "unknown check $kind" >&2; exit 2 ;;
  esac > "$out/$kind.json.tmp" 2> "$out/$kind.log"
  mv "$out/$kind.json.tmp" "$out/$kind.json"
  echo "$kind done" >&2
done
