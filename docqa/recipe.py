"""The shipped model's recipe as one command: every phase, then the recall bench, in one go.

    python -m docqa.recipe OUT_DIR [--recipe bpe|byte] [--until PHASE] [--device cuda] [--quick]
                           [--haystack EVAL_DIR]

It drives both training and the benches, so it sits above both (until issue 12 it was
docqa.train.recipe, and made training import the benches).

`bpe` (the shipped default since December: phase c3, from the tenth session the soup s70, c3
averaged with phase c22, from the twenty-fourth a63, the named-facts lineage from s70, and since the
twenty-eighth a69, two short runs on from a63, in the thirty-first the soup s83, a69 with a fifth
of a83, from the thirty-second the soup s92, a69 with half of a92, from the thirty-seventh a118, s92
grown by a fourth block that alone trained, since the forty-fourth a147, a118's model trained on with
layer 0's memory cut, then gaps, then field files no task asks; the candidates around them,
checkpoints/bpe-c2 to bpe-c4, bpe-c13, bpe-c22, bpe-a11 to bpe-a154-s50) first trains the BPE tokenizer
on the training text (docqa.train.vocab; `apt-get install python3-doc` adds the Python
documentation to that text, man pages and /usr/share/doc come with Debian), then trains on
questions about real text;
`byte` replays the byte-level passkey model of November (the default until December,
checkpoints/byte-p5). Phases run up to the default model (SHIPPED), or to `--until NAME`, e.g.
`--until c4`, `--until s83` (the default before), `--until a34` or `--until a41` for the candidates
and the work in progress. Each phase is a `docqa train` run that starts from the previous phase's model (or the
phase or soup STARTS_FROM names), or is a branch (BRANCHES): its parent's run at a step, Adam
moments and history bank included, with some settings changed, as `docqa train --branch-from`
makes it. A phase that already finished is skipped, so the command resumes after an interruption.
A soup (SOUPS) averages two phases' weights (OUT_DIR/NAME); a grown model (GROWS) is a phase's or
soup's model with one more block on top that starts as the identity (OUT_DIR/NAME). The default model gets the write gate
it ships with (SHIPPED_GATE; OUT_DIR/shipped). At the end the recall bench runs on the final model
(with `--haystack`, also on real text the model never saw) and its tables and JSON land in OUT_DIR.
`--quick` runs every phase for a few steps on the test preset: the CPU check.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from docqa.bench.haystack import Haystack, haystack_bench
from docqa.bench.haystack import format_table as haystack_table
from docqa.bench.haystack import to_json as haystack_json
from docqa.bench.recall import facts_curve, format_table, passkey_table, to_json
from docqa.errors import ConfigError
from docqa.model.io import grow_model, header_quiet, load_model, regate_model, soup_models
from docqa.train.loop import FIXED_IN_BRANCH, TrainConfig, branch_run, checkpoint_dir, train
from docqa.train.vocab import train_vocab

# (name, stop_at, TrainConfig fields). stop_at cuts a phase at the checkpoint the bench chose
# while keeping its learning-rate schedule (docs/TRAINING.md has the tables behind each choice).
BYTE_PHASES: list[tuple[str, int | None, dict]] = [
    ("r2", 1300, dict(steps=4000, max_segments=8, history_fraction=0.0)),
    ("p3", 800, dict(steps=3000, batch=8, lr=5e-4, warmup=50, max_segments=32, start_max_segments=8,
                     curriculum_steps=1000)),
    ("p4", 800, dict(steps=2000, batch=4, lr=5e-4, warmup=50, max_segments=64, start_max_segments=32,
                     curriculum_steps=800, code_fraction=0.25)),
    ("p5", 350, dict(steps=600, batch=4, lr=3e-4, warmup=30, min_segments=8, max_segments=128,
                     start_max_segments=64, curriculum_steps=300, code_fraction=0.25, save_every=50)),
]

# Questions about text (docs/TRAINING.md, December): the candidates checkpoints/bpe-c1 (c1 at step
# 200) and checkpoints/bpe-c2. Subword tokens with numbers in groups of three digits, 2 heads of 64,
# a 128-token segment, a short conv. s1 learns key-addressed recall of needles and named facts on
# the simple filler (run e3); r1 moves to real text with documents still short (p3); r2 lengthens
# them to 16 segments with the history bank on a quarter of the steps (p4, checkpoints/bpe-p4). Each
# stop_at is the step the bench chose.
_COMMON = dict(lm_sample=0.1, lm_weight=0.1, eval_every=0, save_every=50)
_REAL = dict(text="corpus", code_fraction=0.4, prose_fraction=0.5)
# The long-document phases, each c2's settings with what it changes (comments at BPE_PHASES).
_C2 = dict(_COMMON, **_REAL, task_mix={"facts": 2, "needle": 1, "track": 0.5, "passkey": 1},
           keep_every=50, save_every=25, text_ramp_steps=1, steps=800, batch=8, min_segments=6,
           start_max_segments=24, max_segments=48, curriculum_steps=300, lr=1.5e-3, warmup=20,
           max_facts=16, questions=4, write_penalty=1.0, history_fraction=0.5, history_advance=4,
           history_reset=0.01, question_cut=0.75, open_subjects=0.5)
_C3 = dict(_C2, steps=400, min_segments=8, start_max_segments=48, max_segments=80, curriculum_steps=150,
           lr=1e-3, warmup=10, history_fraction=0.6, history_advance=6)
_C4 = dict(_C3, start_max_segments=64, max_segments=96, curriculum_steps=100, write_penalty=2.0,
           history_advance=12)
_W1 = dict(_C3, steps=300, start_max_segments=80, curriculum_steps=1, model_overrides={"write_threshold": 0.5})
_C22 = dict(_C3, open_frames=0.25, composed_frames=0.67, seed=26)
BPE_PHASES: list[tuple[str, int | None, dict]] = [
    ("s1", 800, dict(_COMMON, task_mix={"needle": 1, "facts": 1}, keep_every=250,
                     model_overrides={"segment_len": 128, "short_conv": 4, "n_head": 2},
                     steps=2000, batch=16, min_segments=2, start_max_segments=3, max_segments=4,
                     curriculum_steps=500, lr=6e-3, warmup=100, max_facts=4, history_fraction=0.0)),
    ("r1", 500, dict(_COMMON, **_REAL, task_mix={"needle": 1, "facts": 1, "track": 1}, keep_every=100,
                     text_ramp_steps=300, steps=3000, batch=16, min_segments=2, start_max_segments=3,
                     max_segments=4, curriculum_steps=300, lr=4e-3, warmup=50, max_facts=8,
                     history_fraction=0.0)),
    ("r2", 400, dict(_COMMON, **_REAL, task_mix={"needle": 1, "facts": 1, "track": 1, "passkey": 0.25},
                     keep_every=100, text_ramp_steps=1, steps=1000, batch=16, min_segments=3,
                     start_max_segments=4, max_segments=16, curriculum_steps=300, lr=3e-3, warmup=20,
                     max_facts=8, history_fraction=0.25)),
    # f1 asks four named facts per document (questions=4, as MQAR asks every key); c1 lengthens
    # the documents again with the history bank and a write penalty, so that few tokens write and
    # a stored fact survives more of the stream (docs/TRAINING.md, December, second session).
    ("f1", 600, dict(_COMMON, **_REAL, task_mix={"facts": 3, "needle": 1, "passkey": 0.25}, keep_every=100,
                     text_ramp_steps=1, steps=1500, batch=16, min_segments=3, start_max_segments=4,
                     max_segments=8, curriculum_steps=300, lr=3e-3, warmup=20, max_facts=16, questions=4,
                     history_fraction=0.0)),
    ("c1", 500, dict(_COMMON, **_REAL, task_mix={"facts": 2, "needle": 1, "track": 0.5, "passkey": 0.5},
                     keep_every=50, text_ramp_steps=1, steps=1000, batch=8, min_segments=4, start_max_segments=8,
                     max_segments=24, curriculum_steps=200, lr=2e-3, warmup=20, max_facts=16, questions=4,
                     write_penalty=1.0, history_fraction=0.5)),
    # c2 (checkpoints/bpe-c2) doubles the documents to 48 segments and the history bank to ~400
    # segments, so 32K-token streams are in training; questions may start early in their segment
    # (question_cut), and half the subjects are open ones (open_subjects). The run itself turned
    # these on at steps 250, 300 and 400 (docs/TRAINING.md), so this phase is not its replay.
    ("c2", 500, _C2),
    # c3 (checkpoints/bpe-c3) lengthens the documents to 80 segments and ages the history bank to
    # ~600 segments (77K tokens), for the synthetic table's 32K and 64K rows; from c2 step 500,
    # every setting from its first step (docs/TRAINING.md, December, fourth session).
    ("c3", 350, _C3),
    # c4 (checkpoints/bpe-c4) ages the bank twice as far (~1,200 segments, 154K tokens), grows the
    # documents to 96 segments and doubles the write penalty, for the 64K and 128K rows. The run
    # started from c3 step 300, the recipe from c3's stop (350): a replay of the settings, not the run.
    ("c4", 100, _C4),
    # w1 (checkpoints/bpe-c13, run c13) drops every write whose strength is at most 0.5
    # (write_threshold), so the prose streamed after a fact no longer wears it away; from c3's stop,
    # c3's settings from the first step (docs/TRAINING.md, December, seventh session).
    ("w1", 150, _W1),
    # c22 (checkpoints/bpe-c22) is c3's phase again from c2, with a quarter of the training needles
    # in training-only fixed frames and half in composed ones (opener, determiner, link, closer), so
    # that a needle in wording never seen reads as one; it gains the held-out short rows and loses
    # the long ones (docs/TRAINING.md, December, ninth session). Shipped only inside the soup below.
    ("c22", 300, _C22),
]
# The named-facts lineage (docs/TRAINING.md, December, twelfth to seventeenth sessions; the runs'
# launch lines are in docs/bench/address/*-launch.sh). It starts from the soup s70 (below), widens
# the short conv to 8 taps and adds the address loss, which pulls a question's memory read towards
# the key its fact was written under (docqa.train.address).
# a11 (checkpoints/bpe-a11): MQAR-dense named facts (the kv task, 16 asked per document) with the
# other tasks kept, the address loss on layer 0, whose conv reaches the name; gate off.
_ADDRESS = dict(_COMMON, **_REAL, keep_every=100, text_ramp_steps=1, steps=2000, batch=16, min_segments=5,
                start_max_segments=5, max_segments=5, lr=1e-3, warmup=10, max_facts=64, questions=16,
                history_fraction=0.0, address_weight=1.0, address_sign=-1, conv_lr=0.01,
                model_overrides={"write_threshold": 0.0, "write_window": 0, "short_conv": 8})
_A11 = dict(_ADDRESS, task_mix={"kv": 2, "facts": 1, "needle": 1, "passkey": 1}, max_segments=8, seed=33,
            address_layers=[0])
# a16: the kv task alone (~250 questions a step) with the address loss on layer 1, where needles live.
_A16 = dict(_ADDRESS, task_mix={"kv": 1}, seed=35, address_layers=[1])
# a17 (checkpoints/bpe-a17): c22's long documents (to 80 segments, the history bank, the write
# penalty, composed frames) with the kv task and layer 1's address loss kept.
_A17 = dict(_COMMON, **_REAL, task_mix={"kv": 2, "facts": 2, "needle": 1, "track": 0.5, "passkey": 1},
            keep_every=50, save_every=25, text_ramp_steps=1, steps=1000, batch=8, min_segments=8,
            start_max_segments=16, max_segments=80, curriculum_steps=150, lr=1e-3, warmup=10, max_facts=64,
            questions=8, write_penalty=1.0, history_fraction=0.6, history_advance=6, history_reset=0.01,
            question_cut=0.75, open_subjects=0.5, open_frames=0.25, composed_frames=0.67, seed=34,
            address_weight=1.0, address_sign=-1, address_layers=[1], conv_lr=0.01,
            model_overrides={"write_threshold": 0.0, "write_window": 0, "short_conv": 8})
# a28 (checkpoints/bpe-a28): half the named facts' names made up, at full length from the first step.
_A28 = dict(_A17, batch=6, start_max_segments=64, max_segments=64, lr=3e-4, open_names=0.5)
# a34 (checkpoints/bpe-a34): half the needles asked by a composed question or request.
_A34 = dict(_A28, seed=37, composed_questions=0.5)
# a41 (checkpoints/bpe-a41, gated on every layer): a17 again with a28's knobs, documents growing to 128
# segments, the bank aged twice as far and the write penalty doubled, for the 64K and 128K rows.
_A41 = dict(_A17, batch=4, start_max_segments=64, max_segments=128, curriculum_steps=100, lr=3e-4,
            open_names=0.5, seed=42, write_penalty=2.0, history_advance=12,
            model_overrides=dict(_A17["model_overrides"], write_gate_layers=None))
BPE_PHASES += [("a11", 400, _A11), ("a16", 200, _A16), ("a17", 600, _A17), ("a28", 250, _A28),
               ("a34", 100, _A34), ("a41", 500, _A41)]
# Branches of a41's run (docs/TRAINING.md, twenty-first to twenty-third sessions): each phase's fields are
# only what it changes. a59 (checkpoints/bpe-a59): a41's run at step 900 (runs a49 and a58, a41 resumed
# unchanged), its schedule stretched to 2,000 steps, a gap of 1-256 segments between the facts and the
# questions on half the steps, the gap's writes learning (docqa/train/gap.py). a61 (checkpoints/bpe-a61):
# the passkey task split, two thirds of it hidden in the synthetic filler. a62 (checkpoints/bpe-a62): a61's
# run at step 1400 with gaps of up to 1,024 segments, only their erasures carrying the gradient. a63
# (checkpoints/bpe-a63, gated 0.1 / w2 on layers 1-2): on three steps in four a lead of up to 1,024
# segments streamed into the memory before the documents (loop.draw_lead), so that facts are written
# into a full memory.
_A59 = dict(steps=2000, gap_segments=256, gap_fraction=0.5, gap_learn_writes=True)
_A61 = dict(task_mix={"kv": 2, "facts": 2, "needle": 1, "track": 0.5, "passkey": 0.5, "passkey_synthetic": 1})
_A62 = dict(gap_segments=1024, gap_learn_writes=False)
_A63 = dict(lead_segments=1024, lead_fraction=0.75)
BPE_PHASES += [("a59", 1150, _A59), ("a61", 1300, _A61), ("a62", 1450, _A62), ("a63", 1550, _A63)]
# a68 and a69 (twenty-fifth to twenty-seventh sessions; checkpoints/bpe-a69-s25, the default since the
# twenty-eighth): new runs from a model, not branches, so that Adam starts over at their own rates; each
# is a63's run's settings with what it changes. a68, from a63's model: half the needles asked by a
# composed question or request ("Give the {s}.", as a34), at twice a63's late learning rates, with the
# header's quiet spans the model ships with (QUIET_PHASES), stopped at step 175 of 400. a69, from a68's
# model: named facts asked twice as often, at a63's late rates, stopped at step 25 of 100. a68 gained
# held-out needles save after save and lost named facts asked in training phrasings; a69 keeps the gain,
# brings held-out named facts level with a63's and leaves the seen ones below (docs/TRAINING.md,
# twenty-seventh and twenty-eighth sessions).
_A63_RUN = {**_A41, **_A59, **_A61, **_A62, **_A63}
_A68 = dict(_A63_RUN, seed=68, steps=400, warmup=30, lr=1.2e-4, conv_lr=4e-3, gate_lr=4e-3, start_max_segments=128,
            curriculum_steps=1, keep_every=25, save_every=25, composed_questions=0.5,
            model_overrides={"write_threshold": 0.0, "write_window": 0, "short_conv": 8, "write_gate_layers": None})
_A69 = dict(_A68, seed=69, steps=100, warmup=10, lr=6e-5, conv_lr=2e-3, gate_lr=2e-3,
            task_mix=dict(_A61["task_mix"], facts=4))
BPE_PHASES += [("a68", 175, _A68), ("a69", 25, _A69)]
# a83 (thirty-first session; checkpoints/bpe-a83-s300; a fifth of it is in s83, the default of that session), from a69's model:
# entity tracking with 3-4 people a story (track_people; 1-3 made the latest place written the answer
# in two training stories of three), documents of 8-24 segments without leads, gaps or the history
# bank (about 3 s a step instead of 40), at 5e-4. It tracks by name (right in 29 of 39 bench stories
# whose answer is not the latest place, a69 17), loses needles and its synthetic pass key at 128K
# tokens (docs/TRAINING.md).
_A83 = dict(_A69, seed=83, steps=300, warmup=20, lr=5e-4, conv_lr=4e-3, gate_lr=4e-3, min_segments=8,
            max_segments=24, start_max_segments=24, lead_fraction=0.0, gap_fraction=0.0, history_fraction=0.0,
            save_every=25, keep_every=50, track_people=[3, 4],
            task_mix={"kv": 1, "facts": 2, "needle": 1, "track": 4, "passkey_synthetic": 0.5})
BPE_PHASES += [("a83", 300, _A83)]
# a89 (thirty-second session; checkpoints/bpe-a89-s1000), from a69's model as a83: a83's settings for 1,000
# steps with every tracking move and question composed (composed_track; phrasings.composed_move,
# composed_where), half the composed moves with wide verbs (wide_moves) and half the stories' people made
# up (open_people). With a83's three training questions every model answered the held-out "Where did {p}
# go last?" with a needle's value; a89 answers held-out tracking 0.38 and 0.45 (n 60, two seeds; the
# default 0.10 and 0.17: 41 trials only a89 right against 7), training phrasings level
# (docs/TRAINING.md).
_A89 = dict(_A83, seed=89, steps=1000, save_every=50, keep_every=100, composed_track=1.0, wide_moves=0.5,
            open_people=0.5)
BPE_PHASES += [("a89", 1000, _A89)]
# a92 (checkpoints/bpe-a92-s500; half of the default, SOUPS' s92): a89's
# tracking settings for 500 steps with a69's leads (up to 1,024 segments) on a quarter of the steps. The
# leads keep what a soup takes from a69: a87 (a83's run with them) kept the 128K pass key at 0.80 in a soup
# at 0.5, where a83's 0.5 soup kept 0.35 (docs/TRAINING.md, thirty-second session).
_A92 = dict(_A83, seed=92, steps=500, composed_track=1.0, wide_moves=0.5, open_people=0.5, lead_fraction=0.25)
BPE_PHASES += [("a92", 500, _A92)]
# a118 (thirty-sixth and thirty-seventh sessions; checkpoints/bpe-g118-*), from g92 (GROWS: s92 with a fourth
# block on top that starts as the identity): only the new block trains (freeze), on a89's tracking with
# needles asked twice as often and no leads, on documents of 4-24 segments at 2e-3, about 2 s a step. s92's
# three layers stay as they were, so what they hold is kept; the fourth reads and writes a memory of its own
# and gains held-out tracking and needles (docs/TRAINING.md, thirty-sixth session). Its launch line,
# docs/bench/address/phase-launch.py a69 ..., is these fields.
_A118 = dict(_A69, seed=118, steps=3000, save_every=250, keep_every=250, lr=2e-3, batch=8, warmup=50,
             task_mix={"kv": 1, "facts": 2, "needle": 2, "track": 4, "passkey": 0.5, "passkey_synthetic": 0.5},
             track_people=[3, 4], composed_track=1.0, wide_moves=0.5, open_people=0.5, min_segments=4,
             max_segments=24, start_max_segments=24, gap_fraction=0.0, lead_fraction=0.0, history_fraction=0.0,
             freeze=r"^(?!blocks\.3\.)")
BPE_PHASES += [("a118", 1000, _A118)]
# The layer-0-off line (thirty-eighth to forty-first sessions), from a118's model: layer 0's writes cut by
# the gate in training (write_gate_layers [0] at 0.99, merged into the phase's model_overrides as the launch's
# gate_overrides were), so its memory no longer wears a needle out over 64K tokens. a125
# (checkpoints/bpe-a125-s600): every weight but the embedding at 1e-3 on tracking, needles and named facts,
# documents of 4-24 segments, 300 steps of a 600-step schedule, then (the branch a125l) its schedule stretched to
# 1,500 steps from there, stopped at 600: the run went so, resumed with a new `steps`. a127
# (checkpoints/bpe-a127-s500): a new run from a125l's model at 3e-4 under the gate it is benched with (layer 0
# cut, layers 1 and 2 at 0.2 and 0.5, window 2, skip 2; the top layer ungated), tracking asked twice as often as
# needles and the write penalty at a quarter of a125's (0.5). Its 64K needles are the best of any checkpoint
# (.90 / .60 at the start depth on h77); its tracking is below the default's (docs/TRAINING.md, thirty-ninth
# and forty-first sessions).
_A125 = dict(_A69, seed=125, steps=600, save_every=100, keep_every=100, lr=1e-3, batch=8, warmup=20,
             task_mix={"kv": 1, "facts": 3, "needle": 3, "track": 2, "passkey": 0.5, "passkey_synthetic": 0.5},
             track_people=[3, 4], composed_track=1.0, wide_moves=0.5, open_people=0.5, min_segments=4,
             max_segments=24, start_max_segments=24, gap_fraction=0.0, lead_fraction=0.0, history_fraction=0.0,
             freeze=r"^emb\.", model_overrides=dict(_A69["model_overrides"], write_threshold=0.99,
                                                    write_gate_layers=[0]))
_A125L = dict(steps=1500)
_A127 = dict(_A125, seed=127, steps=1000, lr=3e-4, write_penalty=0.5,
             task_mix={"kv": 1, "facts": 3, "needle": 2, "track": 4, "passkey": 0.5, "passkey_synthetic": 0.5},
             model_overrides=dict(_A69["model_overrides"], write_threshold=0.1, write_window=2, write_skip=2,
                                  write_gate_layers=[0, 1, 2], write_threshold_per_layer=[0.99, 0.2, 0.5, 0.5]))
# a133 (checkpoints/bpe-a133-s150; fortieth session): a127's run on from its model with straight-through gate
# gradients in layer 1 alone (straight_through_layers), so the moves' writes under the threshold learn: held-out
# tracking .55-.65 (a127 .10-.20), and the 64K needle lost. The forty-first session's grafts put both in block
# 0, whose memory is cut: its attention and MLP feed layer 1's keys and write strengths.
_A133 = dict(_A127, seed=133, save_every=50, keep_every=50, gate_straight_through=True, straight_through_layers=[1])
# a141 (forty-second session; checkpoints/bpe-a141-s125), from a127's model as a133: a133's settings with a gap of
# 1-1,024 segments of training text between the facts and the questions on a quarter of the steps (gap_fraction,
# gap_segments: the answer's gradient reaches the facts' writes through the gap's erasures, docqa/train/gap.py),
# saves every 25, stopped at 125. Against the default: held-out tracking gained on two seeds (n 60), needles at
# 4K-64K and named facts level; the pass key in 1 of 100 files of h77 prose lost (.20 against .95), as a133's
# (.35), so it did not ship (docs/TRAINING.md, forty-second session).
_A141 = dict(_A133, seed=141, save_every=25, keep_every=25, gap_fraction=0.25, gap_segments=1024)
# a147 (forty-third session; checkpoints/bpe-a147-s50), from a141's model: a141's settings with short files on half
# the filler draws (short_docs, apart), three quarters of them key-value header lines no task asks (field_docs:
# Debian copyright files, the standard library's test mails), and -log(1 - beta) at those files' tokens in layer 1
# at 20 (unasked_write_weight). a141's layer 1 wrote every "Name: value" line of a folder of package metadata as
# a fact and lost a pass key among 100 such files (.20); field files alone did not stop it (a145, .20), this
# loss does (1.00 at s50). The default since the forty-fourth session: against a118 it gains 64K needles on both
# seeds and splits and holds the rest but tracking asked in training phrasings, which it loses (docs/TRAINING.md,
# forty-third and forty-fourth sessions; docqa/models/default/MODEL.md).
_A147 = dict(_A141, seed=147, short_docs=0.5, short_docs_apart=True, field_docs=0.75, unasked_write_weight=20.0,
             unasked_write_layers=[1])
BPE_PHASES += [("a125", 300, _A125), ("a125l", 600, _A125L), ("a127", 500, _A127), ("a133", 150, _A133),
               ("a141", 125, _A141), ("a147", 50, _A147)]
# a156 (forty-fifth session; checkpoints/bpe-a156-s90): a147's run branched at its step 50 with the value-write loss
# -log beta at every token of the tracking moves' values in layer 1, stopped at 90. It gains held-out tracking
# (.62 against .43) and loses needles and the short files' pass key; block 0's MLP and its norm carry the tracking
# (s156, SOUPS), and the default takes only those, half way.
_A156 = dict(value_write_weight=0.2, value_write_span="value", value_write_layers=[1], value_write_tasks=["track"],
             save_every=10, keep_every=10)
BPE_PHASES += [("a156", 90, _A156)]
# a164 (forty-seventh session), from s156 under its own gate (layer 1 writes above 0.3; s156 so regated is
# checkpoints/bpe-g0mlp50-t3): a147's settings with block 0 and the embedding frozen, needles asked twice as often and
# a156's value-write loss at the tracking moves in layer 1, stopped at 40. Frozen block 0 keeps the held-out needles
# that the trained grafts lost and the tracking gains; trained, layer 1 writes fact-shaped phrases of prose ("the
# value is an integer") just over 0.3 and loses the held-out 64K needles, so the default takes its layers 2-3 alone
# (b164, SOUPS; docs/TRAINING.md, forty-seventh session).
_A164 = dict(_A147, seed=164, save_every=10, keep_every=10, freeze=r"^emb\.|^blocks\.0\.",
             task_mix={"kv": 1, "facts": 3, "needle": 4, "track": 4, "passkey": 0.5, "passkey_synthetic": 0.5},
             value_write_weight=0.2, value_write_span="value", value_write_layers=[1], value_write_tasks=["track"],
             model_overrides=dict(_A147["model_overrides"], write_threshold_per_layer=[0.99, 0.3, 0.5, 0.5]))
# a169 (forty-eighth session), a164 with -log(1 - beta) at the text tokens layer 1 is about to write (over 0.2;
# hard_negative_weight): layer 1 writes no prose and the held-out 64K needles are gained (6 / 14 trials against
# a147), but held-out tracking is not, and by step 80 it is lost (docs/TRAINING.md, forty-eighth session).
_A169 = dict(_A164, seed=169, hard_negative_weight=2.0, hard_negative_beta=0.2, hard_negative_layers=[1])
# a170 (forty-eighth session; checkpoints/bpe-a170-s40), a169 with the hard negatives over 0.3, layer 1's threshold:
# only the text the gate would write. On seed 0 it is level with a147 on needles at 4K-16K and ahead on the
# 64K needles and on tracking, held-out and training; its ship list is not yet all benched (docs/TRAINING.md).
_A170 = dict(_A169, seed=170, hard_negative_beta=0.3)
BPE_PHASES += [("a164", 40, _A164), ("a169", 40, _A169), ("a170", 40, _A170)]
# A branch phase: (the phase whose run it continues, the step of that run it branches at). A step past
# the parent's own stop continues a copy of the parent's run to it (OUT_DIR/PARENT-STEP), so that the
# parent's model stays the one its phase chose.
BRANCHES: dict[str, dict[str, tuple[str, int]]] = {"bpe": {"a59": ("a41", 900), "a61": ("a59", 1150),
                                                            "a62": ("a61", 1400), "a63": ("a62", 1450),
                                                            "a125l": ("a125", 300), "a156": ("a147", 50)}}
RECIPES = {"bpe": BPE_PHASES, "byte": BYTE_PHASES}
# Soups: a model whose every weight is (1 - share) x the first phase's + share x the second's
# (docqa.model.io.soup_models), made when a later phase or the shipped model needs it. s70: c3
# keeps the long rows, c22 reads held-out wordings, and their mean beats either on held-out
# phrasings (docs/TRAINING.md, December, tenth session): checkpoints' bpe-s70, the default until a63.
# s83: a69 with a fifth of a83's step from it, the default since the thirty-first session: a69's needles
# and its synthetic pass key at 128K within 5 points, named facts and tracking gained (a83 itself
# loses both; half its step loses the 128K pass key; docs/TRAINING.md, thirty-first session); the default of
# the thirty-first session (checkpoints/bpe-s83). s92: a69 with half of a92's step, the default since the
# thirty-second session: held-out tracking gained, a69's long streams kept (a92's leads keep them in the
# soup), needles level (docs/TRAINING.md, thirty-second session).
# A fourth field, a regular expression, mixes only the weights whose names it matches (soup_models' `only`); the rest
# stay the first phase's. s156: the default with block 0's MLP and its norm half way to a156's, checkpoints/bpe-g0mlp50
# (forty-sixth session): a156's held-out tracking without its lost needles, once layer 1 writes above 0.3. b164, the
# default since the forty-eighth session (checkpoints/bpe-a164b1t3): a164 with block 1 put back to s156's, so that
# layers 0-1 are s156's and layers 2-3 a164's; its layer 1 writes no prose and keeps the 64K needles a164 lost.
SOUPS: dict[str, dict[str, tuple]] = {"bpe": {"s70": ("c3", "c22", 0.7), "s83": ("a69", "a83", 0.2),
                                              "s92": ("a69", "a92", 0.5),
                                              "s156": ("a147", "a156", 0.5, r"^blocks\.0\.(mlp|norm2)\."),
                                              "b164": ("a164", "s156", 1.0, r"^blocks\.1\.")}}
# A phase starts from the model of the phase before it in its recipe, or from the phase or soup
# named here: c4 and w1 both continue c3, a11 the soup, a41 continues a17, a89 and a92 start from a69 as a83 does,
# a125 from a118's model.
STARTS_FROM = {"w1": "c3", "c22": "c2", "a11": "s70", "a41": "a17", "a89": "a69", "a92": "a69", "a118": "g92",
               "a125": "a118", "a141": "a127", "a147": "a141", "a164": "s156",
               "a169": "s156", "a170": "s156"}
# Grown models: (the phase or soup grown, the seed of the new block's weights). Each is its model with one
# more block on top whose output starts at zero (docqa.model.io.grow_model), so it computes what its source
# does until a phase trains it. g92: s92 with a fourth layer, the start of a118.
GROWS: dict[str, dict[str, tuple[str, int]]] = {"bpe": {"g92": ("s92", 115)}}
# The phase or soup each recipe's default model is: docqa/models/default is bpe's b164 (a147 from the forty-fourth
# to the forty-seventh December session, checkpoints/bpe-a147-s50; a118 from the
# thirty-seventh to the forty-third December session, checkpoints/bpe-a118; s92 from the
# thirty-second to the thirty-sixth, checkpoints/bpe-s92; s83 in the
# thirty-first, checkpoints/bpe-s83; a69 from the twenty-eighth to the thirtieth,
# checkpoints/bpe-a69-s25; a63 from the twenty-fourth to the twenty-seventh, checkpoints/bpe-a63-*; s70
# before, checkpoints/bpe-s70).
SHIPPED = {"bpe": "b164", "byte": "p5"}
# The write gate the shipped model runs with, set on its weights without training
# (docqa.model.io.regate_model). a164 trained under it (its model_overrides), so on b164 it changes nothing;
# naming it here keeps the default's gate one reviewed line. A write at or below a layer's threshold is dropped
# unless a token within 2 of it clears it, so the text after a fact no longer wears it away (docs/TRAINING.md,
# December, eighth and twenty-third sessions), and so is every write at a segment's first 2 positions, where the
# short conv and local attention start over and a token's write is a guess (twenty-fourth session). Layer 0 is
# cut (0.99): the a125 line trained with it writing nothing (thirty-eighth session). Layer 1 writes above 0.3:
# at 0.1, over two seeds, 19 needles at 64K tokens were lost that 0.2 keeps against 8 the other way (twenty-sixth
# session), and s156's block-0 MLP raises layer 1's write strength everywhere, prose included, which 0.3 drops
# (forty-sixth session); layer 2, which keeps needles past 16K tokens, above 0.5: at 0.1 it wrote ~4x bpe-s70's
# prose over 64K tokens (twenty-fifth session). Layer 3 is ungated, as a118 grew and trained it (its entry is not used).
# Only the shipped model gets it; `--until` another phase gives that phase as trained.
SHIPPED_GATE = {"bpe": {"write_threshold": 0.1, "write_window": 2, "write_gate_layers": [0, 1, 2], "write_skip": 2,
                        "write_threshold_per_layer": [0.99, 0.3, 0.5, 0.5]}}
# The gates the recipe's earlier defaults shipped with, by name: shipped_gate(..., shipped=NAME). a147 (the default
# from the forty-fourth to the forty-seventh session, checkpoints/bpe-a147-s50) wrote in layer 1 above 0.2. a118 (the
# default from the thirty-seventh to the forty-third session, checkpoints/bpe-a118) trained ungated and wrote in
# layer 0 at every token (gated, its line lost the synthetic pass key at 16K); with n_layer=3 it is the gate of
# the three-layer defaults before a block was grown (s92, s83, a69).
FORMER_GATES = {"bpe": {"a147": {"write_threshold": 0.1, "write_window": 2, "write_gate_layers": [0, 1, 2],
                                 "write_skip": 2, "write_threshold_per_layer": [0.99, 0.2, 0.5, 0.5]},
                        "a118": {"write_threshold": 0.1, "write_window": 2, "write_gate_layers": [1, 2],
                                 "write_skip": 2, "write_threshold_per_layer": [0.1, 0.2, 0.5, 0.5]}}}
# The recipes whose shipped model also writes nothing at a file's header (<|doc|> through its header
# line, ModelConfig.quiet_open / quiet_close from docqa.model.io.header_quiet): the a-lineage wrote
# "###" and the file names as facts, and a thousand headers wore a pass key away (twenty-fifth session).
SHIPPED_QUIET_HEADERS = {"bpe"}
# The phases that train with a file's header writing nothing, as the shipped model runs: the quiet spans
# for the run's own tokenizer are added to their model_overrides (docqa.model.io.header_quiet).
QUIET_PHASES = {"bpe": {"a68", "a69", "a83", "a89", "a92", "a118", "a125", "a127", "a133", "a141", "a147", "a164",
                        "a169", "a170"}}
PHASES = BPE_PHASES
VOCAB_SIZE = 8192

QUICK = dict(preset="small", batch=2, steps=4, warmup=1, save_every=2, eval_every=0,
             min_segments=3, start_max_segments=3, max_segments=4, curriculum_steps=2, gap_segments=2,
             lead_segments=2)


def shipped_gate(recipe: str, tokenizer, n_layer: int | None = None, shipped: str | None = None) -> dict | None:
    """The write gate's fields the recipe's shipped model runs with: SHIPPED_GATE (or, with `shipped`, the
    gate the earlier default of that name shipped with, FORMER_GATES), plus the header's quiet spans for
    this tokenizer where SHIPPED_QUIET_HEADERS names the recipe. With `n_layer`, the same gate on a model
    of only the first n_layer layers (a default from before a block was grown); it must keep every layer
    the gate names."""
    if shipped is None:
        gate = dict(SHIPPED_GATE.get(recipe, {}))
    elif shipped in FORMER_GATES.get(recipe, {}):
        gate = dict(FORMER_GATES[recipe][shipped])
    else:
        raise ConfigError(f"recipe {recipe!r} has no former default {shipped!r} with a gate; it has "
                          f"{', '.join(FORMER_GATES.get(recipe, {})) or 'none'}")
    if n_layer is not None and "write_threshold_per_layer" in gate:
        gated = gate.get("write_gate_layers") or range(len(gate["write_threshold_per_layer"]))
        if not 0 < n_layer <= len(gate["write_threshold_per_layer"]) or max(gated) >= n_layer:
            raise ConfigError(f"recipe {recipe!r} ships a gate for {len(gate['write_threshold_per_layer'])} "
                              f"layers that gates layers {list(gated)}; it does not fit {n_layer} layers")
        gate["write_threshold_per_layer"] = gate["write_threshold_per_layer"][:n_layer]
    if recipe in SHIPPED_QUIET_HEADERS:
        gate |= header_quiet(tokenizer)
    return gate or None


def _names(recipe: str) -> list[str]:
    return [p[0] for p in RECIPES[recipe]] + list(SOUPS.get(recipe, {})) + list(GROWS.get(recipe, {}))


def _start(recipe: str, name: str) -> str | None:
    """The phase or soup a phase starts from: STARTS_FROM's, else the phase before it (None: the first)."""
    names = [p[0] for p in RECIPES[recipe]]
    i = names.index(name)
    branch = BRANCHES.get(recipe, {}).get(name)
    return branch[0] if branch else STARTS_FROM.get(name) or (names[i - 1] if i else None)


def _state(run: Path) -> dict:
    """The saved state of `run`'s checkpoint (step, train_config, ...)."""
    return json.loads((checkpoint_dir(run) / "state.json").read_text())


def _run_at(out: Path, parent: str, at: int, device: str) -> Path:
    """The run of phase `parent` at step `at`: its own run where it stopped there, else a copy of it
    trained on to `at` (OUT_DIR/PARENT-AT, resumed if interrupted)."""
    step = _state(out / parent)["step"]
    if step == at:
        return out / parent
    if step > at:
        raise ConfigError(f"phase {parent} stopped at step {step}, past {at}, the step a branch of it starts "
                          f"from; remove {out / parent} to train it again")
    run = out / f"{parent}-{at}"
    if checkpoint_dir(run) is None:
        tmp = out / f"{parent}-{at}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)  # a copy cut short by a kill
        shutil.copytree(out / parent, tmp, ignore=shutil.ignore_patterns("models"))
        tmp.rename(run)
    if _state(run)["step"] < at:
        train(run, None, stop_at=at, device=device)
    return run


def plan(recipe: str, until: str | None = None) -> list[str]:
    """The phases, soups and grown models that lead to `until` (default: the shipped model), each after every
    one it needs and each once."""
    last = until or SHIPPED[recipe]
    if last not in _names(recipe):
        raise ConfigError(f"recipe {recipe!r} has no phase, soup or grown model {last!r}; it has "
                          f"{', '.join(_names(recipe))}")
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        soup, grow = SOUPS.get(recipe, {}).get(name), GROWS.get(recipe, {}).get(name)
        for need in soup[:2] if soup else grow[:1] if grow else [_start(recipe, name)]:
            if need is not None:
                visit(need)
        order.append(name)

    visit(last)
    return order


def phases_until(recipe: str, until: str | None = None) -> list[tuple[str, int | None, dict]]:
    """The phases trained on the way to `until` (default: the shipped model), in training order."""
    phases = {p[0]: p for p in RECIPES[recipe]}
    return [phases[n] for n in plan(recipe, until) if n in phases]


def _build(out: Path, recipe: str, order: list[str], overrides: dict, quick: bool, on_log=None) -> dict[str, Path]:
    """Train each phase of `order` not yet finished, from the model it starts from, average each
    soup and grow each grown model; return every name's model directory. A finished phase is
    skipped, so an interrupted recipe resumes; a soup or a grown model is made again (seconds)."""
    phases, soups, grows = {p[0]: p for p in RECIPES[recipe]}, SOUPS.get(recipe, {}), GROWS.get(recipe, {})
    models: dict[str, Path] = {}
    for name in order:
        if name in soups:
            a, b, share, *only = soups[name]
            soup_models(models[a], models[b], share, out / name, only=only[0] if only else None)
            models[name] = out / name
            continue
        if name in grows:  # seeded, so made again it is the same model
            source, seed = grows[name]
            grow_model(models[source], out / name, seed)
            models[name] = out / name
            continue
        _, stop_at, fields = phases[name]
        run = out / name
        stop = None if quick else stop_at
        ckpt = checkpoint_dir(run)
        branch = BRANCHES.get(recipe, {}).get(name)
        if branch is not None:  # the quick check branches where its parent ended, two steps on
            parent, at = branch
            if quick:
                at = _state(out / parent)["step"]
            kept = {k: v for k, v in overrides.items() if k not in FIXED_IN_BRANCH}
            cfg = {**fields, **kept, **({"steps": at + 2} if quick else {})}
            if ckpt is None:
                source = _run_at(out, parent, at, overrides["device"])
                shutil.rmtree(run, ignore_errors=True)  # a branch cut short before its checkpoint landed
                branch_run(source, run, cfg)
                ckpt = checkpoint_dir(run)
            steps = _state(run)["train_config"]["steps"]
        else:
            cfg = {**fields, **overrides}
            start = _start(recipe, name)
            if start is not None:
                cfg["init_from"] = str(models[start])
            if name in QUIET_PHASES.get(recipe, {}):
                quiet = header_quiet(load_model(models[start]).tokenizer)
                cfg["model_overrides"] = {**cfg.get("model_overrides", {}), **quiet}
            steps = cfg["steps"]
        finished = ckpt is not None and _state(run)["step"] >= (stop or steps)
        if not finished:
            train(run, None if ckpt is not None else TrainConfig.from_dict(cfg), on_log=on_log, stop_at=stop)
        models[name] = checkpoint_dir(run) / "model"
    return models


def run_recipe(out: Path, device: str = "cpu", quick: bool = False, lengths: list[int] | None = None,
               n: int = 10, on_log=None, recipe: str = "bpe", haystack: list[str] | None = None,
               until: str | None = None) -> dict:
    order = plan(recipe, until)  # an unknown name is refused before the tokenizer trains
    out.mkdir(parents=True, exist_ok=True)
    extra: dict = {}
    if recipe == "bpe":
        tok_path = out / "tokenizer.json"
        if not tok_path.exists():
            train_vocab(tok_path, 600 if quick else VOCAB_SIZE, max_files=20 if quick else 1500)
        extra = {"tokenizer": str(tok_path)}
        if quick:  # the quick check leaves out the slow parts: the full text, the code modules and the field
            # files drawn from the full text (their own tests train with them: tests/train/test_address.py)
            extra |= {"text": "stdlib", "max_facts": 2, "task_mix": {"needle": 1, "facts": 1, "track": 1},
                      "field_docs": 0.0, "unasked_write_weight": 0.0}
    overrides = {**(QUICK if quick else {}), **extra, "device": device}
    previous = _build(out, recipe, order, overrides, quick, on_log)[order[-1]]
    gate = shipped_gate(recipe, load_model(previous).tokenizer) if order[-1] == SHIPPED[recipe] else None
    if gate:
        regate_model(previous, out / "shipped", **gate)
        previous = out / "shipped"
    lm = load_model(previous, device=device)
    lengths = lengths or ([256] if quick else [1024, 4096, 16384])
    cells = passkey_table(lm, lengths, ["start", "middle", "end"], 2 if quick else n)
    cells += facts_curve(lm, [1, 2] if quick else [1, 2, 4, 8, 16], 512 if quick else 2048, 2 if quick else n)
    md = f"model {lm.name}\n\n{format_table(cells)}\n"
    result = {"model": lm.name, "model_dir": str(previous), "gate": gate,
              "phases": [n for n in order if n in {p[0] for p in RECIPES[recipe]}],
              "soups": {n: list(SOUPS[recipe][n]) for n in order if n in SOUPS.get(recipe, {})},
              "grows": {n: list(GROWS[recipe][n]) for n in order if n in GROWS.get(recipe, {})},
              "cells": to_json(cells)}
    if haystack:
        hay = Haystack(lm, haystack)
        hcells = haystack_bench(lm, hay, [512] if quick else [1024, 4096, 16384], ["start", "middle", "end"],
                                [2] if quick else [1, 2, 4, 8, 16, 32], 512 if quick else 2048,
                                ["train", "heldout"], 2 if quick else n)
        md += f"\nhaystack {', '.join(haystack)}\n\n{haystack_table(hcells)}\n"
        result["haystack"] = haystack
        result["haystack_cells"] = haystack_json(hcells)
    (out / "bench.md").write_text(md)
    (out / "bench.json").write_text(json.dumps(result, indent=2))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description="Train the default model's recipe, then bench it.")
    ap.add_argument("out", type=Path)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--quick", action="store_true", help="a few steps per phase: the CPU check")
    ap.add_argument("--lengths", default=None, help="bench lengths, e.g. 1024,16384,262144,1048576")
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--recipe", default="bpe", choices=sorted(RECIPES))
    ap.add_argument("--until", default=None, help="last phase, soup or grown model to make (default: the shipped model, "
                    + ", ".join(f"{r} {p}" for r, p in SHIPPED.items()) + ")")
    ap.add_argument("--haystack", action="append", default=None,
                    help="also bench on this folder's text (never trained on), e.g. a package from site-packages")
    args = ap.parse_args()
    lengths = [int(x) for x in args.lengths.split(",")] if args.lengths else None
    try:
        plan(args.recipe, args.until)
    except ConfigError as e:
        ap.error(str(e))
    result = run_recipe(args.out, args.device, args.quick, lengths, args.n, recipe=args.recipe,
                        haystack=args.haystack, until=args.until)
    print((args.out / "bench.md").read_text())
    print(f"model: {result['model_dir']}")


if __name__ == "__main__":
    main()
