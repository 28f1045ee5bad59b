#!/bin/sh
# a16: can a layer that writes selectively (layer 1: the default's needles live there) learn the address
# when it gets a9's ~250 questions per step? a9's settings (kv task, 5 segments, batch 16, gate off),
# from checkpoints/bpe-a11 (its layer 0 already addresses), the address loss on $2 (e.g. [1]).
RUN=$1; LAYERS=$2
MALLOC_ARENA_MAX=2 exec .venv/bin/docqa train $RUN --init-from checkpoints/bpe-a11 --threads 1 \
  --set lm_sample=0.1 --set lm_weight=0.1 --set eval_every=0 --set save_every=50 --set text=corpus \
  --set code_fraction=0.4 --set prose_fraction=0.5 --set 'task_mix={"kv": 1}' --set keep_every=100 \
  --set text_ramp_steps=1 --set steps=2000 --set batch=16 --set min_segments=5 --set start_max_segments=5 \
  --set max_segments=5 --set lr=0.001 --set warmup=10 --set max_facts=64 --set questions=16 \
  --set history_fraction=0 --set seed=35 --set address_weight=1.0 --set address_sign=-1 \
  --set address_layers=$LAYERS --set conv_lr=0.01 \
  --set 'model_overrides={"write_threshold": 0.0, "write_window": 0, "short_conv": 8}'
