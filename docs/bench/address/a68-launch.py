"""a68 (twenty-fifth session): a new run from checkpoints/bpe-a63 with a63's settings (recipe's a41 phase
plus its branches' fields) and half the needles asked by a composed question or request
(`composed_questions` 0.5, as a34). Held-out trials ask only the bench's two held-out questions: of the
quiet-header model's 71 held-out needle misses at 4K-16K on h78, 48 are "Give the {s}." and 23 "Which
value is the {s}?". a63's lineage (from a17)
never trained on composed questions, and a34 against its control gained on held-out needles (15 / 5
trials at step 200, p 0.041). The model trains with the header's quiet spans it ships with
(docqa.model.io.header_quiet), at twice a63's late learning rates (a66 kept its synthetic passkey there).
Run: .venv/bin/python docs/bench/address/a68-launch.py runs/a68 [STOP_AT [SEED [LR_SCALE]]]"""
import sys
from pathlib import Path

from docqa import recipe
from docqa.model.io import header_quiet, load_model
from docqa.train.loop import TrainConfig, checkpoint_dir, train

LR = float(sys.argv[4]) if len(sys.argv) > 4 else 2.0
cfg = dict(recipe._A41)
for name, _, fields in recipe.BPE_PHASES:
    if name in ("a59", "a61", "a62", "a63"):
        cfg.update(fields)
quiet = header_quiet(load_model("checkpoints/bpe-a63").tokenizer)
cfg.update(init_from="checkpoints/bpe-a63", seed=int(sys.argv[3]) if len(sys.argv) > 3 else 68, steps=400, warmup=30,
           lr=6e-5 * LR, conv_lr=2e-3 * LR, gate_lr=2e-3 * LR,
           start_max_segments=128, curriculum_steps=1, keep_every=25, save_every=25, composed_questions=0.5,
           threads=1, model_overrides={"write_threshold": 0.0, "write_window": 0, "short_conv": 8,
                                       "write_gate_layers": None, **quiet})
run = Path(sys.argv[1])
stop = int(sys.argv[2]) if len(sys.argv) > 2 else None
train(run, None if checkpoint_dir(run) else TrainConfig.from_dict(cfg), stop_at=stop,
      on_log=lambda line: print(line, file=sys.stderr, flush=True))
