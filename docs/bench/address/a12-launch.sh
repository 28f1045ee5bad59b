#!/bin/sh
# a12/a13: give bpe-a11 back its length. c22's phase (documents to 80 segments, the history bank, the
# write penalty) with the kv task and the layer-0 address loss kept in the mix, from checkpoints/bpe-a11.
# INIT (default checkpoints/bpe-a11) and ADDR (default [0]) from the environment; EXTRA, further
# --set words appended last (a later --set wins).
# Args: RUN WRITE_THRESHOLD WRITE_WINDOW VALUE_WRITE_WEIGHT BATCH MAX_SEGMENTS [VALUE_WRITE_LAYERS]
# a12: runs/a12 0 0 0 8 80 (ungated, as a11)   a13: runs/a13 0.4 2 0.3 6 64 (under the shipped gate)
# a14: runs/a14 0.4 2 1.0 6 64 [0] (a13, the value-write loss on layer 0 alone)
# a15: runs/a15 0.4 2 1.0 6 64 [0] 1.0 (a14 with value_write_negatives 1.0)
# a17: INIT=runs/a16/models/step-200 ADDR=[1] runs/a17 0 0 0 8 80 (a12 from a16: gate off, at inference)
# a18: INIT=runs/a16/models/step-200 ADDR=[1] runs/a18 0.4 2 1.0 6 64 [1] 1.0 (under the gate)
# a19: INIT=runs/a16/models/step-200 ADDR=[1] runs/a19 0.4 2 1.0 6 64 [1] 1.0 value (a18, whole values, text negatives)
# a20: INIT=runs/a16/models/step-200 ADDR=[1] runs/a20 0 0 0.3 6 64 [1] 0.3 value (a17 + layer 1's value writes)
# a21: INIT=runs/a17/models/step-500 ADDR=[1] EXTRA="--set composed_fact_frames=0.5 --set start_max_segments=64"
#      runs/a21 0 0 0 6 64 (a17 at full length from the start, half the named facts in composed frames)
# a22: INIT=runs/a17/models/step-500 ADDR=[1] EXTRA="--set open_names=0.5 --set composed_fact_frames=0.5
#      --set start_max_segments=64 --set model_overrides={\"write_threshold\":0.2,\"write_window\":2,\"short_conv\":8,\"write_gate_layers\":[1,2]}"
#      runs/a22 0 0 0 6 64 (a21 plus made-up names, trained under the gate 0.2 / w2 on layers 1 and 2 (not layer 0))
# a23: a22's INIT, ADDR and EXTRA with runs/a23 0 0 1.0 6 64 [1] 1.0 value (a22 plus the value-write loss on layer 1:
#      under the gate a22's layer-1 writes at the facts fell from 0.2 to 0.05 in 10 steps)
# a24: INIT=runs/a17/models/step-600 ADDR=[1] EXTRA="--set open_names=0.5 --set composed_fact_frames=0.5
#      --set start_max_segments=64" runs/a24 0 0 0 6 64 (a21 plus made-up names, ungated, from a17's step 600)
# a25: INIT=runs/a17/models/step-600 ADDR=[1] EXTRA="--set gate_straight_through=true --set start_max_segments=64
#      --set model_overrides={\"write_threshold\":0.2,\"write_window\":2,\"short_conv\":8,\"write_gate_layers\":[1,2]}"
#      runs/a25 0 0 0 6 64 (a17 trained under the gate on layers 1-2, dropped writes straight-through)
# a26: INIT=runs/a17/models/step-600 ADDR=[1] EXTRA="--set open_names=0.5 --set start_max_segments=64"
#      runs/a26 0 0 0 6 64 (a24 without composed fact frames: made-up names alone)
# a27: INIT=runs/a17/models/step-600 ADDR=[1] EXTRA="--set start_max_segments=64" runs/a27 0 0 0 6 64
#      (the control: a24's restart from step 600 with neither knob)
# a28: a26 with EXTRA += "--set lr=0.0003" (a17's own learning rate at step 600 is 4.2e-4), runs/a28 (step 250 = checkpoints/bpe-a28)
# a29: INIT=runs/a17/models/step-600 ADDR=[1] EXTRA="--set start_max_segments=64 --set curriculum_steps=100
#      --set lr=0.0003" runs/a29 0 0 0 4 128 (documents to 128 segments, 16K tokens)
# a30: INIT=runs/a28/models/step-350 ADDR=[1] EXTRA="--set open_names=1.0 --set start_max_segments=64
#      --set lr=0.0003 --set seed=35" runs/a30 0 0 0 6 64 (a28 further, every name made up)
# a31: INIT=runs/a28/models/step-250 ADDR=[1] EXTRA="--set open_names=0.5 --set start_max_segments=64 --set lr=0.0003
#      --set seed=36 --set gate_straight_through=true --set model_overrides={\"write_threshold\":0.2,\"write_window\":2,\"short_conv\":8,\"write_gate_layers\":[1,2]}"
#      runs/a31 0 0 0 6 64 (a25 at a28's learning rate: trained under the gate on layers 1-2)
# a32: INIT=checkpoints/bpe-a28 ADDR=[1] EXTRA='--set open_names=0.5 --set start_max_segments=64 --set lr=0.0003
#      --set seed=37 --set composed_questions=0.5 --set model_overrides={"write_threshold":0,"write_window":0,"short_conv":8,"write_gate_layers":null}'
#      runs/a32 0 0 0 6 64 (a28 from step 250, ungated as it trained, half the needles asked with composed questions)
#      (the question lists of commit 555460b: questions only, no requests)
# a33: a32 without composed_questions (the control), runs/a33
# a34: a32 with the lists that add requests ("State the {s}."), runs/a34
# a35: INIT=checkpoints/bpe-a34 ADDR=[1] EXTRA='--set open_names=0.5 --set start_max_segments=64 --set lr=0.0003
#      --set seed=38 --set composed_questions=0.5 --set wide_links=0.7 --set model_overrides={"write_threshold":0,"write_window":0,"short_conv":8,"write_gate_layers":null}'
#      runs/a35 0 0 0 6 64 (a34 further, 70% of composed needle statements linked by a verb of phrasings.WIDE_LINKS)
# a36: a35 without wide_links (the control), runs/a36
# a37: a35 with --set seed=39 --set wide_links=1.0 --set task_mix={"kv":2,"facts":2,"needle":3,"track":0.5,"passkey":1}
#      runs/a37 (every composed link a WIDE_LINKS verb, three times the needles)
# a38: a37 without wide_links (the control), runs/a38
# a39: INIT=runs/a37/models/step-200, a37's EXTRA with --set seed=40 --set write_penalty=2.0 --set history_advance=12,
#      runs/a39 0 0 0 6 64 (a37 with c4's long-row settings: the bank aged twice as far, writes penalised twice as much)
# a40: a37 with --set composed_fact_frames=0.5 (half the named facts composed, every composed link a WIDE_LINKS verb),
#      runs/a40 (so that the names' keys, which the address loss trains, stop carrying "is")
# a41: INIT=checkpoints/bpe-a17 ADDR=[1] EXTRA='--set open_names=0.5 --set start_max_segments=64 --set curriculum_steps=100
#      --set lr=0.0003 --set seed=42 --set write_penalty=2.0 --set history_advance=12 --set model_overrides={"write_threshold":0,"write_window":0,"short_conv":8,"write_gate_layers":null}'
#      runs/a41 0 0 0 4 128 (a28's knobs from bpe-a17, documents to 128 segments, c4's bank age and write penalty: the long rows)
# a42: a40 (INIT=checkpoints/bpe-a34, seed 39, wide_links 1.0, composed_fact_frames 0.5, needle 3) with
#      --set address_negatives=256, runs/a42 0 0 0 6 64 (256 tokens of each document's earlier text join the
#      address loss's candidates; a needle's one key has an address too). Same batches as a40: its control.
# a43: INIT=runs/a41/models/step-450, a41's EXTRA with --set seed=43 and
#      --set task_mix={"kv":2,"facts":2,"needle":3,"track":0.5,"passkey":1}, runs/a43 0 0 0 4 128
#      (a41's long-row knobs with a38's three times the needles)
# a44: a40 with the value-write loss on layer 1 over whole values (weight 0.1, negatives 0.1):
#      INIT=checkpoints/bpe-a34, a42's EXTRA without address_negatives, runs/a44 0 0 0.1 6 64 "[1]" 0.1 value
#      (the write at a value after an unseen link is what falls; same batches as a40: its control)
# a45: INIT=runs/a41/models/step-500, a41's EXTRA with --set seed=45, runs/a45 0 0 0.1 4 128 "[1]" 0.1 value
#      (a41 with a44's value-write loss: does a strong write at the value bring back 128K, whose end is lost?)
# a46: INIT=runs/a41/models/step-500, a41's EXTRA with --set seed=46 --set start_max_segments=128
#      --set curriculum_steps=1 --set task_mix={"kv":2,"facts":2,"needle":2,"track":0.5,"passkey":2},
#      runs/a46 0 0 0 4 128 (a43's lesson: twice the needles and twice the passkeys, full length from step 0)
# a47: INIT=runs/a41/models/step-500, a41's EXTRA with --set seed=47 --set start_max_segments=128
#      --set curriculum_steps=1 --set address_negatives=256 --set task_mix={"kv":2,"facts":2,"needle":3,"track":0.5,"passkey":1},
#      runs/a47 0 0 0 4 128 (a43's mix with the filler's keys among the address loss's candidates)
# a48: a47 without address_negatives and with a41's own task mix, seed 48, runs/a48 (the restart's control:
#      does a new run from a41 step 500 lose the passkey without any more needles?)
# Branches (not this script: they keep the parent's optimizer moments, history bank and step):
# a49: cp -r runs/a41/{checkpoint,filler.safetensors,text.json} runs/a49; docqa train runs/a49 --threads 1 --stop-at 700
#      (a41 resumed as it was: the control of the branches below)
# a50: docqa train runs/a50 --branch-from runs/a41 --threads 1 --stop-at 700
#      --set 'task_mix={"kv":2,"facts":2,"needle":3,"track":0.5,"passkey":1}' (a43's needles, without a restart)
# a51: a50's line with --set value_write_weight=0.03 --set 'value_write_layers=[1]' --set value_write_negatives=0.03
#      --set value_write_span=value (a44's value write at a third of its weight; a50's batches)
# a52: a50's line with --set code_fraction=0.35 --set prose_fraction=0.45 (the simple filler, "The grass is
#      green. ...", in 20% of the documents instead of 10%: a50 lost the synthetic passkey to "g(reen)")
# a53: a50's line with --set write_penalty=4.0 --stop-at 650 (twice a41's penalty on the mean write strength:
#      keep the filler's own statements out of memory while the needles train)
# a54: a50's line with 'task_mix={"kv":2,"facts":2,"needle":3,"track":0.5,"passkey":3}' --stop-at 650
#      (as many passkey documents as needles: does the passkey's share hold the table?)
# a55: a50's line with 'task_mix={"kv":2,"facts":2,"needle":2,"track":0.5,"passkey":1}' --stop-at 650
#      (half a50's extra needles)
# a56: docqa train runs/a56 --branch-from runs/a41 --threads 1 --stop-at 650 --set seed=56
#      (a41's own mix on other batches: is a49's table at step 600 the mix's or its batches' luck?)
RUN=$1; TH=$2; WIN=$3; VW=$4; B=$5; MAXS=$6; VWL=${7:-null}; VWN=${8:-0}; VWS=${9:-first}
MALLOC_ARENA_MAX=2 exec .venv/bin/docqa train $RUN --init-from ${INIT:-checkpoints/bpe-a11} --threads 1 \
  --set lm_sample=0.1 --set lm_weight=0.1 --set eval_every=0 --set save_every=25 --set text=corpus \
  --set code_fraction=0.4 --set prose_fraction=0.5 \
  --set 'task_mix={"kv": 2, "facts": 2, "needle": 1, "track": 0.5, "passkey": 1}' --set keep_every=50 \
  --set text_ramp_steps=1 --set steps=1000 --set batch=$B --set min_segments=8 \
  --set start_max_segments=16 --set max_segments=$MAXS --set curriculum_steps=150 --set lr=0.001 \
  --set warmup=10 --set max_facts=64 --set questions=8 --set write_penalty=1.0 \
  --set history_fraction=0.6 --set history_advance=6 --set history_reset=0.01 \
  --set question_cut=0.75 --set open_subjects=0.5 --set open_frames=0.25 \
  --set composed_frames=0.67 --set seed=34 --set address_weight=1.0 --set address_sign=-1 \
  --set address_layers=${ADDR:-[0]} --set conv_lr=0.01 --set value_write_weight=$VW --set value_write_layers=$VWL \
  --set value_write_negatives=$VWN --set value_write_span=$VWS \
  --set "model_overrides={\"write_threshold\": $TH, \"write_window\": $WIN, \"short_conv\": 8}" $EXTRA
# a57: docqa train runs/a57 --branch-from runs/a49 --threads 1 --stop-at 900 --set gap_segments=256
#      --set gap_fraction=0.5 (a49 = a41 resumed on its own batches, at step 650; on half the steps a gap
#      of 1-256 segments of training text between the facts and the questions: docqa/train/gap.py)
# a58: docqa train runs/a58 --branch-from runs/a49 --threads 1 --stop-at 900 (a57's control: the same
#      batches, no gap)
# a59: docqa train runs/a59 --branch-from runs/a58 --threads 1 --stop-at 1200 --set steps=2000 --set gap_segments=256
#      --set gap_fraction=0.5 --set gap_learn_writes=true (a58 at step 900; the schedule stretched to 2,000 steps,
#      so lr 1.9e-4 at step 900 instead of 3.7e-5; the gap's own writes learn, one layer deep)
# a60: docqa train runs/a60 --branch-from runs/a58 --threads 1 --stop-at 1200 --set steps=2000 (a59's control:
#      the same batches, no gap)
# g1 (the gap on the default's lineage, twenty-second session): c22's phase (docqa/recipe.py _C22) from the
#      shipped default, batch 6, documents 8-80 segments from the first step, lr 3e-4 over 1,000 steps, seed 50,
#      trained ungated as the soup's parents were, the gap with its writes learning; stopped at step 243:
#      docqa train runs/g1 --init-from docqa/models/default --threads 1 --stop-at 1000 --set text=corpus
#      --set code_fraction=0.4 --set prose_fraction=0.5 --set 'task_mix={"facts": 2, "needle": 1, "track": 0.5, "passkey": 1}'
#      --set keep_every=50 --set save_every=25 --set text_ramp_steps=1 --set steps=1000 --set batch=6 --set min_segments=8
#      --set start_max_segments=80 --set max_segments=80 --set curriculum_steps=1 --set lr=0.0003 --set warmup=10
#      --set max_facts=16 --set questions=4 --set write_penalty=1.0 --set history_fraction=0.6 --set history_advance=6
#      --set history_reset=0.01 --set question_cut=0.75 --set open_subjects=0.5 --set open_frames=0.25
#      --set composed_frames=0.67 --set lm_sample=0.1 --set lm_weight=0.1 --set eval_every=0 --set seed=50
#      --set 'model_overrides={"write_threshold": 0, "write_window": 0}' --set gap_segments=256 --set gap_fraction=0.5
#      --set gap_learn_writes=true
# a61: docqa train runs/a61 --branch-from runs/a59 --threads 1 --stop-at 1400
#      --set 'task_mix={"kv": 2, "facts": 2, "needle": 1, "track": 0.5, "passkey": 0.5, "passkey_synthetic": 1}'
#      (a59 at step 1150; the passkey task split, and the larger share of it in the synthetic filler, its gap too)
# a62: docqa train runs/a62 --branch-from runs/a61 --threads 1 --stop-at 1450 --set gap_segments=1024
#      --set gap_learn_writes=false (a61 at step 1400; gaps of up to 128K tokens, the erasures only, for the
#      synthetic 128K row)
# a63: docqa train runs/a63 --branch-from runs/a62 --threads 1 --stop-at 1550 --set lead_segments=1024
#      --set lead_fraction=0.75 (a62 at step 1450; on three steps in four a lead of 1-1,024 segments streamed
#      into the starting memory before the documents, the synthetic filler in `passkey_synthetic` rows:
#      loop.draw_lead, for the synthetic 128K row's end); then docqa train runs/a63 --threads 1 --stop-at 1650, stopped
#      at step 1604 (checkpoint 1600). checkpoints/bpe-a63 = step 1550 regated 0.1 / w2 on layers [1, 2]
# a64: docqa train runs/a64 --branch-from runs/a63 --threads 1 --stop-at 1650 --set short_docs=0.3 (a63 at
#      step 1600; 30% of filler draws cut into files of 20-300 tokens behind ingest's headers: for
#      `docqa bench sources`, where the lineage loses the pass key among 100 short documents)
