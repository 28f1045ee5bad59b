"""A new run from a model with the settings of one of the recipe's bpe phases, its header quiet (as
the QUIET_PHASES train), and what it changes (docs/TRAINING.md). Every run since a68, each checked against the TrainConfig it recorded:
  a68: .venv/bin/python docs/bench/address/phase-launch.py a68 checkpoints/bpe-a63 runs/a68 175 68
  a69: .venv/bin/python docs/bench/address/phase-launch.py a69 runs/a68/models/step-175 runs/a69 25 69
  a70: .venv/bin/python docs/bench/address/phase-launch.py a68 checkpoints/bpe-a63 runs/a70 400 68 lr=6e-5 conv_lr=2e-3 gate_lr=2e-3
  a71: .venv/bin/python docs/bench/address/phase-launch.py a69 runs/a69/models/step-25 runs/a71 100 71 composed_fact_frames=0.5
  a72: .venv/bin/python docs/bench/address/phase-launch.py a69 runs/a69/models/step-25 runs/a72 25 72 address_weight=2.0
  a73: .venv/bin/python docs/bench/address/phase-launch.py a68 checkpoints/bpe-a63 runs/a73 200 68 needle_distractors=3
  a74: .venv/bin/python docs/bench/address/phase-launch.py a68 checkpoints/bpe-a63 runs/a74 200 68 \
           distill_from='"checkpoints/bpe-a63"' distill_weight=1.0
  a75: .venv/bin/python docs/bench/address/phase-launch.py a68 checkpoints/bpe-a63 runs/a75 200 68 composed_questions=0.0
  a76: .venv/bin/python docs/bench/address/phase-launch.py a68 checkpoints/bpe-a63 runs/a76 200 68 composed_questions=0.0 \
           model_overrides='{"write_threshold": 0.0, "write_window": 0, "short_conv": 8, "write_gate_layers": null}'
  a77: .venv/bin/python docs/bench/address/phase-launch.py a69 runs/a69/models/step-25 runs/a77 100 77 \
           distill_from='"checkpoints/bpe-a63"' distill_weight=4.0 distill_tasks='["facts"]'
  a78: .venv/bin/python docs/bench/address/phase-launch.py a68 checkpoints/bpe-a63 runs/a78 100 68 \
           distill_from='"checkpoints/bpe-a63"' distill_weight=4.0
  The thirty-first session's runs start from runs/a69raw, the default's weights without its gate (regate_model
  with write_threshold 0, write_window 0, write_gate_layers None, write_skip 0, write_threshold_per_layer None):
  a79: .venv/bin/python docs/bench/address/phase-launch.py a69 runs/a69raw runs/a79 100 79 \
           task_mix='{"kv": 2, "facts": 4, "needle": 1, "track": 0.5, "passkey": 0.5, "passkey_synthetic": 1, "code": 2}'
  a80: ... runs/a80 100 80 task_mix='{"kv": 2, "facts": 4, "needle": 1, "track": 3, "passkey": 0.5, "passkey_synthetic": 1}'
  a81: ... runs/a81 100 81 task_mix='{... as a79, "code": 8}' lr=2e-4 conv_lr=4e-3 gate_lr=4e-3 max_segments=32 \
           start_max_segments=32
  a82: ... runs/a82 100 80 task_mix='{... as a80}' track_people='[3, 4]'
  a83: ... runs/a83 300 83 task_mix='{"kv": 1, "facts": 2, "needle": 1, "track": 4, "passkey_synthetic": 0.5}' \
           track_people='[3, 4]' lr=5e-4 conv_lr=4e-3 gate_lr=4e-3 steps=300 warmup=20 min_segments=8 max_segments=24 \
           start_max_segments=24 lead_fraction=0.0 gap_fraction=0.0 history_fraction=0.0 save_every=25 keep_every=50
  a84: ... runs/a84 300 84 task_mix='{"kv": 1, "facts": 2, "needle": 1, "track": 0.5, "passkey_synthetic": 0.5, "code": 4}' \
           and a83's other settings
  a85: .venv/bin/python docs/bench/address/phase-launch.py a69 runs/a83/models/step-300 runs/a85 50 85 \
           task_mix='{... as a80}' track_people='[3, 4]'
  The thirty-second session's runs are new runs of the a83 phase (now in the recipe) from runs/a69raw:
  a86: .venv/bin/python docs/bench/address/phase-launch.py a83 runs/a69raw runs/a86 300 86 composed_track=0.5
  a87: .venv/bin/python docs/bench/address/phase-launch.py a83 runs/a69raw runs/a87 300 87 composed_track=0.5 \
           lead_fraction=0.25
  a88: ... runs/a88 300 88 composed_track=0.5 wide_moves=0.5 open_people=0.5
  a89: ... runs/a89 1000 89 steps=1000 composed_track=1.0 wide_moves=0.5 open_people=0.5 save_every=50 keep_every=100
  a90: a89's settings with model_overrides of a83's phase, the header's quiet spans and short_conv 16 (given
       whole, as model_overrides always is; the launch passes them through launch())
  a91: .venv/bin/python docs/bench/address/phase-launch.py a69 checkpoints/bpe-a89-s1000 runs/a91 100 91 \
           task_mix='{"kv": 2, "facts": 4, "needle": 1, "track": 3, "passkey": 0.5, "passkey_synthetic": 1}' \
           track_people='[3, 4]' composed_track=1.0 wide_moves=0.5 open_people=0.5  (stopped at step 2 for a92)
  a92: ... runs/a92 500 92 steps=500 composed_track=1.0 wide_moves=0.5 open_people=0.5 lead_fraction=0.25
  The thirty-third session's, from runs/a69raw too:
  a93: ... runs/a93 1000 93 steps=1000 composed_track=1.0 wide_moves=0.5 open_people=0.5 lead_fraction=0.25 \
           save_every=50 keep_every=100
  a94: ... runs/a94 500 94 steps=500 composed_track=1.0 wide_moves=0.5 open_people=0.5 lead_fraction=0.5
  a95: ... runs/a95 300 95 task_mix='{"kv": 1, "facts": 2, "needle": 1, "track": 0.5, "passkey_synthetic": 0.5, "code": 4}' \
           code_rename=1.0
  a96: a95's command with code_pieces=512 min_segments=4 (runs/a96 300 96)
  a97: a96's with task_mix='{... "code": 2, "code_needle": 3}' (runs/a97 300 97)
  a98: a97's with value_write_weight=1.0 value_write_span='"value"' value_write_layers='[1, 2]' (runs/a98 300 98)
  a99: a98's with steps=600 save_every=100 keep_every=100 and
           task_mix='{"kv": 1, "facts": 2, "needle": 1, "passkey_synthetic": 0.5, "code": 1, "code_needle": 6}' (runs/a99 600 99)
  a100: a99's command from runs/a99/models/step-600 with steps=900 (runs/a100 900 100)
  a101: .venv/bin/python docs/bench/address/phase-launch.py a69 runs/a93/models/step-1000 runs/a101 25 101 \
           task_mix='{... as a80}' track_people='[3, 4]' composed_track=1.0 wide_moves=0.5 open_people=0.5
  The thirty-fourth session's (runs/s92raw: the default's weights with the gate off, as runs/a69raw; a101
  resumed to step 100 with its own command):
  a102: .venv/bin/python docs/bench/address/phase-launch.py a83 checkpoints/bpe-a100-s900 runs/a102 1500 102 \
           task_mix='{"kv": 1, "facts": 2, "needle": 1, "passkey_synthetic": 0.5, "code": 4, "code_needle": 3}' \
           code_rename=1.0 code_pieces=512 min_segments=4 value_write_weight=1.0 value_write_span='"value"' \
           value_write_layers='[1, 2]' steps=1500 save_every=250 keep_every=250
  a103: .venv/bin/python docs/bench/address/phase-launch.py a69 runs/s92raw runs/a103 100 103 \
           task_mix='{... as a80}' track_people='[3, 4]' composed_track=1.0 wide_moves=0.5 open_people=0.5
  a104: ... a69 runs/probe/g-s92-a101s100b0e-raw runs/a104 50 104 steps=50 freeze='"^emb|^blocks\\.0\\."' and a103's
           other settings (the start: graft.py runs/s92raw runs/a101/models/step-100 'blocks\\.0\\.|emb|norm_f')
  a105: ... a69 runs/a104/models/step-50 runs/a105 25 105 steps=25 freeze='"^blocks\\.0\\."' and a103's other settings
  a106: a102's command from checkpoints/bpe-a102-s1500 (runs/a106 1000 106) with min_segments=8 max_segments=64
           start_max_segments=64 steps=1000 save_every=100 keep_every=100
  a107: ... a69 runs/probe/g-s92-a101s100b0-raw runs/a107 40 107 steps=40 save_every=20 keep_every=20 lr=2e-4
           freeze='"^blocks\\.0\\."' and a103's other settings (the start: graft.py runs/s92raw
           runs/a101/models/step-100 'blocks\\.0\\.')
  The thirty-fifth session's:
  a108: ... a69 runs/a107/models/step-40 runs/a108 80 108 steps=80 save_every=20 keep_every=20 and a107's other settings
  a109: a107's command with seed 109 and task_mix='{... as a80, "needle": 3}' (runs/a109 40 109; stopped at step 12)
  a110: ... a69 runs/probe/rg-s92-a101-nodig-raw runs/a110 50 110 steps=50 save_every=25 keep_every=25
           freeze='"^emb\\.|^blocks\\.0\\."' and a103's other settings (the start: soup_models(runs/s92raw,
           runs/a101/models/step-100, 1.0, only='^(blocks\\.0\\.|emb\\.|norm_f\\.)', keep_tokens='\\d'))
  a111: ... a69 runs/s92raw runs/a111 40 111 steps=40 save_every=20 keep_every=20 lr=2e-4
           task_mix='{... as a80, "needle": 2}' freeze='"^(?!blocks\\.0\\.(norm1|attn\\.(qkv|conv|proj)))"'
           and a103's other settings (only block 0's attention projections train)
  a112: a111's command with lr=5e-4 (runs/a112 40 112)
The thirty-sixth session's (runs/probe/grow-s92-raw: grow_model(runs/s92raw, seed=115), s92 with a fourth
  block whose output projections are zero):
  a113: ... a69 runs/probe/pg-rep-raw runs/a113 40 113 steps=40 save_every=20 keep_every=20 lr=2e-4
           freeze='"^(?!blocks\\.0\\.(norm1|attn\\.(qkv|conv|proj)))"' distill_from='"runs/s92raw"' distill_weight=1.0
           distill_tasks='["needle", "passkey", "passkey_synthetic"]' and a111's other settings
  a114: ... a69 runs/probe/rg-s92-a101-nodig-raw runs/a114 40 114 a113's settings with lr=1e-4 freeze='"^emb\\."'
  a115: ... a69 runs/probe/grow-s92-raw runs/a115 60 115 steps=60 save_every=20 keep_every=20 lr=5e-4
           freeze='"^(?!blocks\\.3\\.)"' and a111's task mix and tracking settings (stopped at step 31)
  a116: ... a69 runs/probe/grow-s92-raw runs/a116 300 116 steps=300 save_every=50 keep_every=50 lr=1e-3 batch=8
           warmup=20 task_mix='{"kv": 1, "facts": 2, "needle": 2, "track": 4, "passkey": 0.5, "passkey_synthetic": 0.5}'
           track_people='[3, 4]' composed_track=1.0 wide_moves=0.5 open_people=0.5 min_segments=4 max_segments=24
           start_max_segments=24 gap_fraction=0.0 lead_fraction=0.0 history_fraction=0.0 freeze='"^(?!blocks\\.3\\.)"'
  a117: a116's command with lr=5e-3 (runs/a117 300 117)
  a118: a116's command with runs/a118 3000 118 steps=3000 save_every=250 keep_every=250 lr=2e-3 warmup=50
  a119: a118's command with runs/a119 3000 119 write_penalty=0.0 value_write_weight=1.0 value_write_layers='[3]'
           (stopped at step 1500)
The thirty-seventh session's (runs/a120.sh ... runs/a123.sh on the machine ran these lines):
  a120: .venv/bin/python docs/bench/address/phase-launch.py a69 runs/a118/models/step-1000 runs/a120 1000 120
           steps=1000 save_every=100 keep_every=100 lr=1e-3 batch=8 warmup=20 lead_fraction=0.25 and a118's other
           settings (stopped twice before its first save)
  a121: ... a69 runs/probe/grow-a118 runs/a121 1500 121 steps=1500 save_every=250 keep_every=250 lr=2e-3 batch=8
           warmup=50 task_mix='{"kv": 2, "facts": 4, "needle": 1, "track": 1, "passkey": 0.5, "passkey_synthetic": 0.5}'
           freeze='"^(?!blocks\\.4\\.)"' and a118's other settings; runs/probe/grow-a118 is
           grow_model(runs/a118/models/step-1000, seed=121) (stopped at step 1016)
  a122: ... a69 runs/probe/grow-a118-next runs/a122 1000 122 steps=1000 save_every=125 keep_every=125 lr=2e-3
           batch=8 warmup=50 task_mix='{"kv": 1, "facts": 3, "needle": 3, "track": 2, "passkey": 0.5,
           "passkey_synthetic": 0.5}' freeze='"^(?!blocks\\.4\\.)"' and a118's other settings;
           runs/probe/grow-a118-next is grow_model(runs/a118/models/step-1000, seed=122, next_value=True)
           (stopped at step 302)
  a123: a122's command with runs/a123 1000 123 write_penalty=0.0
The thirty-eighth session's (layer 0's writes cut in training: gate_overrides, merged over the phase's
model_overrides and the quiet spans; from a118 s1000's raw weights):
  a124: .venv/bin/python docs/bench/address/phase-launch.py a69 runs/a118/models/step-1000 runs/a124 600 124 \
           steps=600 save_every=100 keep_every=100 lr=3e-4 batch=8 warmup=20 \
           task_mix='{"kv": 1, "facts": 3, "needle": 3, "track": 2, "passkey": 0.5, "passkey_synthetic": 0.5}' \
           track_people='[3, 4]' composed_track=1.0 wide_moves=0.5 open_people=0.5 min_segments=4 max_segments=24 \
           start_max_segments=24 gap_fraction=0.0 lead_fraction=0.0 history_fraction=0.0 freeze='"^emb\\."' \
           gate_overrides='{"write_threshold": 0.99, "write_gate_layers": [0]}'
        then, from its step-600 checkpoint, the same command with STOP_AT 764 and steps=1500 (stopped at 764)
  a125: the same with runs/a125, STOP_AT 300, seed 125 and lr=1e-3 (it ran to 409 and was resumed from its step-300
        checkpoint), then the same command with STOP_AT 820 and steps=1500: a resume takes a new `steps` (the
        schedule stretched from there) and nothing else. (They ran as runs/a124.py, runs/a125.py and
        runs/a12x-more.py on the machine, which these lines reproduce.)
  a127: .venv/bin/python docs/bench/address/phase-launch.py a69 checkpoints/bpe-a125-s600 runs/a127 1000 127 \
           steps=1000 save_every=100 keep_every=100 lr=3e-4 batch=8 warmup=20 write_penalty=0.5 \
           task_mix='{"kv": 1, "facts": 3, "needle": 2, "track": 4, "passkey": 0.5, "passkey_synthetic": 0.5}' \
           gate_overrides='{"write_threshold": 0.1, "write_window": 2, "write_skip": 2, "write_gate_layers": [0, 1, 2],
           "write_threshold_per_layer": [0.99, 0.2, 0.5, 0.5]}' and a124's other settings (trained under the gate
           it is benched with)
The thirty-ninth session's (runs/a127.sh ... runs/a131.sh on the machine; a127 restarted from step 0 on a new
machine with the line above, batch=8 warmup=20 written out):
  a128: a127's command with runs/a128 1000 128, lr=1e-3 and facts 5 in task_mix (stopped at 200)
  a129: a127's command from checkpoints/bpe-g118-s1000 with runs/a129 1000 129 and "write_threshold_per_layer":
           [0.3, 0.2, 0.5, 0.5] (layer 0 gated at 0.3, not cut; stopped at 100)
  a130: a129's command with runs/a130 1000 130 and gate_straight_through=true (stopped at ~150)
  a131: a127's command with runs/a131 1000 131 and gate_straight_through=true (stopped at ~210)
The fortieth session's (runs/a132.sh ... runs/a135.sh on the machine):
  a132: a131's command from checkpoints/bpe-a131-s200 with runs/a132 1000 132, save_every=50 keep_every=50,
           value_write_negatives=0.1 value_write_layers='[1, 2]' (stopped at ~200)
  a133: a127's command from checkpoints/bpe-a127-s500 with runs/a133 1000 133, save_every=50 keep_every=50,
           gate_straight_through=true straight_through_layers='[1]'
  a134: a127's command from runs/a133/models/step-150 with runs/a134 1000 134, save_every=50 keep_every=50
           (straight-through off again; stopped at 300)
  a135: a133's command with runs/a135 1000 135, lr=1e-3 and freeze='"^(?!blocks\\.1\\.)"' (block 1 alone trains;
           stopped at 152)
  a136: a127's command from runs/s40/grow-a127 (grow_model(checkpoints/bpe-a127-s500, seed=136)) with runs/a136
           1000 136, save_every=50 keep_every=50, lr=2e-3, freeze='"^(?!blocks\\.4\\.)"' and
           "write_threshold_per_layer": [0.99, 0.2, 0.5, 0.5, 0.5] (the fifth block ungated)
The forty-first session's (runs/a136.sh, runs/a137.sh on the machine; a new machine, so a136 restarted from step 0
  with the line above, runs/s41/grow-a127 grown again at seed 136; stopped at 643):
  a137: a133's command with runs/a137 1000 137, lead_fraction=0.25 lead_segments=512 (on a quarter of the steps
           1-512 segments of text streamed into the memory before the documents; stopped at ~170)
  a138: a133's command with runs/a138 1000 138 and freeze='"^(emb|blocks\\.0)\\."' (block 0 frozen too; stopped at 295)
  a139: a133's command with runs/a139 1000 139 and write_penalty=2.0 (stopped at 200)
  a140: a135's command (block 1 alone trains) with runs/a140 1000 140 and lr=2e-3 (stopped at 324)
The forty-second session's (runs/a141.sh, runs/a142.sh on the machine):
  a141: a133's command from checkpoints/bpe-a127-s500 with runs/a141 1000 141, save_every=25 keep_every=25
           gap_fraction=0.25 gap_segments=1024 gap_learn_writes=false (on a quarter of the steps 1-1,024 segments of
           text between the facts and the questions; stopped at ~160; step 125 is checkpoints/bpe-a141-s125,
           recipe phase a141)
  a142: a141's command from checkpoints/bpe-a133-s150 with runs/a142 1000 142 (OOM-killed twice at step 4 beside
           a141 with gap_segments=1024; restarted with gap_segments=512 and stopped at 18 for a141's benches)
  a143: a133's command with runs/a143 1000 143, save_every=25 keep_every=25 short_docs=0.5 short_docs_apart=true
           (half the filler cut into short files, each from a place of its own; stopped at ~197)
The forty-third session's (runs/a144.sh ... runs/a147.sh on the machine), the recipe's phase a141 with field files
  (short files of key-value header lines no task asks: Debian copyright files and the standard library's test mails):
  a144: .venv/bin/python docs/bench/address/phase-launch.py a141 checkpoints/bpe-a127-s500 runs/a144 150 144 \
           short_docs=0.5 short_docs_apart=true field_docs=0.75  (stopped at ~77)
  a145: ... a141 checkpoints/bpe-a141-s125 runs/a145 100 145 short_docs=0.5 short_docs_apart=true field_docs=0.75
           (stopped at ~56)
  a146: a145's command with runs/a146 150 146 and unasked_write_weight=5.0 unasked_write_layers='[1]'
  a147: a145's command with runs/a147 150 147 and unasked_write_weight=20.0 unasked_write_layers='[1]'
  (a148: a145's command with runs/a148 150 148 and unasked_write_weight=50.0 unasked_write_layers='[1]', stopped at ~36)
The forty-fourth session's (runs/a149.sh ... runs/a154.sh on the machine), the recipe's phase a147 on from its model at step 50:
  a149: .venv/bin/python docs/bench/address/phase-launch.py a147 checkpoints/bpe-a147-s50 runs/a149 60 149 \
           unasked_write_weight=20.0 unasked_write_layers='[1, 2]' save_every=10 keep_every=10
  a150: ... a147 checkpoints/bpe-a147-s50 runs/a150 50 150 value_write_weight=1.0 value_write_span='"value"' \
           value_write_layers='[1, 2]' save_every=10 keep_every=10
           (stopped at ~48)
  a151: a150's command with runs/a151 50 151 and value_write_layers='[1]'
  a152: ... a147 checkpoints/bpe-a147-s50 runs/a152 60 152 unasked_write_weight=22.5 \
           unasked_write_layers='[1, 1, 1, 1, 1, 1, 1, 1, 2]' save_every=10 keep_every=10  (20 on layer 1, 2.5 on 2)
  a153: a151's command with runs/a153 50 153 and value_write_weight=0.2
  a154: a153's command with runs/a154 50 154 and a152's unasked_write_weight and unasked_write_layers
  a155: a153's command with runs/a155 30 155 and value_write_tasks='["track"]' (new: the tracking moves' values alone)
The forty-fifth session's: a147r, a147's command with runs/a147r 50 147, replays the phase to step 50 (its model is
  bitwise checkpoints/bpe-a147-s50) and keeps that step's optimizer for branches (`docqa train --branch-from`), whose
  commands are in docs/TRAINING.md, forty-fifth session.
  a159: a155's command with runs/a159 30 159 and freeze='"^emb\\.|^blocks\\.0\\."' (block 0 and the embedding frozen)
  a160: a155's command with runs/a160 30 160 and freeze='"^emb\\.|^blocks\\.0\\.(attn|norm1)\\."' (block 0's attention frozen,
        its MLP trains)
The forty-sixth session's:
  a161: a155's command with runs/a161 40 161, lr=1e-4 and freeze='"^(?!blocks\\.0\\.(mlp|norm2)\\.)"' (block 0's MLP
        and its norm alone train)
  a162: .venv/bin/python docs/bench/address/phase-launch.py a147 runs/soup/g0mlp50-t3 runs/a162 30 162 save_every=10 \
           keep_every=10 lr=1e-4 freeze='"^(?!blocks\\.0\\.(mlp|norm2)\\.)"' \
           gate_overrides='{"write_threshold_per_layer": [0.99, 0.3, 0.5, 0.5]}'  (runs/soup/g0mlp50-t3 is
           checkpoints/bpe-g0mlp50-t3)
The forty-seventh session's, each from checkpoints/bpe-g0mlp50-t3 under its gate with a156's loss and needles at 4:
  a163: .venv/bin/python docs/bench/address/phase-launch.py a147 runs/soup/g0mlp50-t3 runs/a163 40 163 save_every=10 \
           keep_every=10 value_write_weight=0.2 value_write_span='"value"' value_write_layers='[1]' \
           value_write_tasks='["track"]' \
           task_mix='{"kv": 1, "facts": 3, "needle": 4, "track": 4, "passkey": 0.5, "passkey_synthetic": 0.5}' \
           gate_overrides='{"write_threshold_per_layer": [0.99, 0.3, 0.5, 0.5]}'  (everything but the embedding trains)
  a164: a163's command with runs/a164 40 164 and freeze='"^emb\\.|^blocks\\.0\\."' (resumed with stop 80)
  a165: a163's command with runs/a165 40 165 and freeze='"^(?!blocks\\.1\\.)"' (block 1 alone trains)
  a166: a163's command with runs/a166 40 166 and freeze='"^emb\\.|^blocks\\.(0|2)\\."' (blocks 1 and 3 train)
  a167, a168: a165's command with runs/a167 40 167 and value_write_negatives=1.0; runs/a168 40 168 and
        value_write_negatives=0.3
The forty-eighth session's:
  a169: a164's command with runs/a169 40 169 (resumed with stop 80) and hard_negative_weight=2.0 hard_negative_beta=0.2 \
        hard_negative_layers='[1]' (the start: checkpoints/bpe-g0mlp50-t3)
  a170: a169's command with runs/a170 40 170 and hard_negative_beta=0.3
Usage: phase-launch.py PHASE START RUN STOP_AT SEED [FIELD=JSON_VALUE ...]; a run resumes with the same
command, or with another steps=N to stretch its schedule."""
import json
import sys
from pathlib import Path

from docqa import recipe
from docqa.model.io import header_quiet, load_model
from docqa.train.loop import TrainConfig, checkpoint_dir, train


def launch(phase: str, start: str, run: Path, stop: int, seed: int, changes: dict) -> None:
    fields = {p[0]: p for p in recipe.BPE_PHASES}[phase][2]
    gate = changes.pop("gate_overrides", {})
    cfg = dict(fields, init_from=start, seed=seed, threads=1, **changes)
    if "model_overrides" not in changes:  # given, they are the run's whole overrides: no quiet spans added
        cfg["model_overrides"] = {**cfg["model_overrides"], **header_quiet(load_model(start).tokenizer)}
    cfg["model_overrides"] = {**cfg["model_overrides"], **gate}  # on top of either
    resume = TrainConfig(steps=changes["steps"]) if "steps" in changes else None  # a resume keeps all but steps
    train(run, resume if checkpoint_dir(run) else TrainConfig.from_dict(cfg), stop_at=stop,
          on_log=lambda line: print(line, file=sys.stderr, flush=True))


if __name__ == "__main__":
    launch(sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]),
           {k: json.loads(v) for k, v in (a.split("=", 1) for a in sys.argv[6:])})
