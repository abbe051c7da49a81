#!/usr/bin/env bash
# The FER2013 augmentation experiment (docs/experiments/fer2013-gan.md), end to end:
#   1. the GAN's two loss classifiers, the fer2013 preset's [classifier] (deep-cnn, strong
#      augmentation, 40 epochs) and [ensemble] member (the fer2013-cpu recipe, seed 1)
#   2. the GAN (`fergan train --preset fer2013`: 6,000 steps, anti-adversarial settings)
#   3. fergan evaluate with its default evaluator: resnet-baseline, seed 1, class-balanced
#      batches (another design than either loss classifier), recall on real test faces beside
#      each hit rate
#   4. synthetic disgust faces, enough to top disgust up to the median class count
#   5. fergan study: the real-data fixes (oversample, logit-adjust) against synthetic faces with
#      each of them, and the baseline (CONDITIONS=LIST for others); 3 paired seeds (SEEDS=N), deep-cnn 10 epochs,
#      one cell at a time (WORKERS=N trains N cells at once, in processes sharing the cores)
#   6. every condition against oversampling with a disgust boundary shifted on PublicTest
#      (scripts/threshold_baseline.py: the cheapest rebalancing, a minute of inference)
# Every step writes into OUT and is skipped when its result is already there, and steps 1, 2
# and 5 continue an interrupted run, so re-running the script picks up where it stopped.
# OUT/chain.log records the commit, the CPU and when each step started and ended.
#
# usage: [SEEDS=N] [CONDITIONS=LIST] [WORKERS=N] scripts/fer2013_augmentation.sh [FER2013_CSV] [OUT]
# Re-run with a larger SEEDS to add paired seeds to a finished study (the cells it has are kept).
# 2 CPU cores with AVX-512 BF16: about 20 + 28 + 42 + 12 + 1 + 87 + 1 minutes (5.8 a study cell);
# with AVX2 only (fp32) twice as long or more (13 minutes a study cell; the GAN with one loss
# classifier 33 faces/s against 105).
set -euo pipefail

data=${1:-../shared/data/fer2013/fer2013.csv.gz}
out=${2:-runs/fer2013-augmentation}
seeds=${SEEDS:-3}
workers=${WORKERS:-1}
conditions=${CONDITIONS:-baseline,oversample,logit-adjust,synthetic+oversample,synthetic+logit-adjust}
[[ -f "$data" ]] || { echo "error: no FER2013 csv at '$data' (give its path as the first argument)" >&2; exit 2; }
mkdir -p "$out"

log() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $*" | tee -a "$out/chain.log" >&2; }
log "start: commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)," \
    "CPU $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)"

latest() { ls -d "$1"/*/ 2>/dev/null | tail -1 | sed 's:/$::' || true; }  # nothing yet: empty

# 1. loss classifiers: the fer2013 preset's [classifier] and its [ensemble] member (its own
#    recipe, the next seed); a re-run continues an interrupted one
train_classifier() {  # ROOT FER-CLASSIFY-TRAIN-ARGS...: prints the run folder
  local root=$1 run
  shift
  run=$(latest "$root")
  if [[ -z "$run" ]]; then
    fer-classify train "$@" --out "$root" --quiet >/dev/null
  elif [[ ! -f "$run/model.pt" ]]; then
    fer-classify train --resume "$run" --quiet >/dev/null
  fi
  latest "$root"
}
log "step 1 loss classifiers"
clf=$(train_classifier "$out/classifier" --data "$data" --model deep-cnn --epochs 40 --scheduler cosine \
  --batch-size 64 --augment strong)
clf2=$(train_classifier "$out/classifier-2" --data "$data" --preset fer2013-cpu --seed 1)

# 2. GAN
log "step 2 GAN"
gan=$(latest "$out/gan")
if [[ -z "$gan" ]]; then
  fergan train --preset fer2013 --data "$data" --expr-classifier "$clf/model.pt" --expr-classifier "$clf2/model.pt" \
    --out "$out/gan" --quiet >/dev/null
  gan=$(latest "$out/gan")
else
  fergan train --resume "$gan" --quiet >/dev/null  # a finished run returns at once
fi

# 3. quality, by the default evaluator (another design and seed than the loss classifier)
log "step 3 evaluate"
[[ -f "$gan/metrics.json" ]] || fergan evaluate "$gan" --data "$data"

# 4. synthetic disgust (median class count 4,097 - 436 real = 3,661 needed); a re-run continues
log "step 4 synthesize"
fergan synthesize --generator "$gan" --emotion disgust --n 3700 --out "$gan/synthetic" --quiet

# 5. the study
log "step 5 study"
study=$(latest "$out/study")
if [[ -z "$study" ]]; then
  fergan study --data "$data" --synthetic "$gan/synthetic" --emotions disgust --amounts median --seeds "$seeds" \
    --conditions "$conditions" \
    --model deep-cnn --epochs 10 --workers "$workers" --out "$out/study" --quiet
  study=$(latest "$out/study")
else
  fergan study --resume "$study" --seeds "$seeds" --workers "$workers" --quiet
fi

# 6. the shifted boundary (needs the study's oversample cells)
if [[ -d "$study/cells/oversample" ]]; then
  log "step 6 shifted boundary"
  "${PYTHON:-python}" "$(dirname "$0")/threshold_baseline.py" "$study" --emotion disgust --reference oversample >/dev/null
fi
log "done: $study/report.md"
