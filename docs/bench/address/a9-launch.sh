#!/bin/sh
# a9/a10: MQAR-dense named facts (task $1: kv or kv_words) from the default, conv widened to 8 taps (own lr 1e-2),
# the address loss on layer 0 (whose conv can reach the name), sign -1
T=$1; RUN=$2
MALLOC_ARENA_MAX=2 exec .venv/bin/docqa train $RUN --init-from docqa/models/default --threads 1 \
  --set lm_sample=0.1 --set lm_weight=0.1 --set eval_every=0 --set save_every=50 --set text=corpus \
  --set code_fraction=0.4 --set prose_fraction=0.5 --set "task_mix={\"$T\": 1}" --set keep_every=100 \
  --set text_ramp_steps=1 --set steps=2000 --set batch=16 --set min_segments=5 --set start_max_segments=5 \
  --set max_segments=5 --set lr=0.001 --set warmup=10 --set max_facts=64 --set questions=16 \
  --set history_fraction=0 --set seed=32 --set address_weight=1.0 --set address_sign=-1 \
  --set address_layers=[0] --set conv_lr=0.01 \
  --set 'model_overrides={"write_threshold": 0.0, "write_window": 0, "short_conv": 8}'
