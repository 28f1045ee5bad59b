import json
import re
from pathlib import Path

import pytest
import torch

from docqa.errors import ConfigError
from docqa.model.io import header_quiet, load_model
from docqa.recipe import (BRANCHES, FORMER_GATES, GROWS, QUIET_PHASES, RECIPES, SHIPPED, SHIPPED_GATE,
                          SHIPPED_QUIET_HEADERS, SOUPS, STARTS_FROM, phases_until, plan, run_recipe, shipped_gate)


def _model_dir(out, recipe, name):
    made = {**SOUPS.get(recipe, {}), **GROWS.get(recipe, {})}  # made in OUT_DIR, not trained
    return out / name if name in made else out / name / "checkpoint" / "model"


@pytest.mark.parametrize("recipe, until", [("byte", None), ("bpe", None)])
def test_quick_recipe_trains_every_phase_then_benches_and_resumes(tmp_path, recipe, until):
    """bpe runs to the shipped b164 through a118 (trained on from g92, the soup s92 grown by a block; s92 is a
    soup of a69, two runs on from a63, a branch of a branch of a41's run whose chain passes through the soup s70,
    and a92, a run on from a69): a127 (the layer-0-off line from a118's model) trained on with straight-through
    gate gradients in layer 1 and gaps (a141), then with short files (a147); a156, a branch of a147, gives block
    0's MLP to s156, a164 trains s156's blocks 1-3 and b164 puts s156's block 1 back. Run again from the same
    directory, it trains nothing again and gates b164 with the gate a164 trained under."""
    order = plan(recipe, until)
    assert SHIPPED[recipe] in order
    hay = tmp_path / "hay"
    hay.mkdir()
    (hay / "a.txt").write_text("The river winds through the valley, past mills and quiet farms.\n" * 80)
    result = run_recipe(tmp_path / "out", quick=True, recipe=recipe, haystack=[str(hay)], until=until)
    out = tmp_path / "out"
    phases = [n for n in order if n not in SOUPS.get(recipe, {}) and n not in GROWS.get(recipe, {})]
    assert result["phases"] == phases
    skipped = {"c4", "w1", "a28", "a34", "a83", "a89", "a133", "a169", "a170"}  # phases the plan to b164 does not pass through
    assert {p[0] for p in RECIPES[recipe]} - set(phases) == (skipped if recipe == "bpe" else set())
    tok = load_model(_model_dir(out, recipe, SHIPPED[recipe])).tokenizer
    gate = shipped_gate(recipe, tok)
    if recipe in SHIPPED_QUIET_HEADERS:  # the header's quiet spans, for this run's own tokenizer
        assert gate == {**SHIPPED_GATE[recipe], **header_quiet(tok)} and tok.encode("\n")[0] in gate["quiet_close"]
    else:
        assert gate == SHIPPED_GATE.get(recipe)
    applied = gate if order[-1] == SHIPPED[recipe] else None  # only the shipped model is gated
    assert result["model_dir"] == str(out / "shipped" if applied else _model_dir(out, recipe, order[-1]))
    assert result["gate"] == applied
    branches = BRANCHES.get(recipe, {})
    for name in phases:
        state = json.loads((out / name / "checkpoint" / "state.json").read_text())
        start = STARTS_FROM.get(name) or (order[order.index(name) - 1] if name != order[0] else None)
        if name in branches:  # where its parent's run ended (the quick check's branch point), two steps on
            parent = json.loads((out / branches[name][0] / "checkpoint" / "state.json").read_text())
            assert state["branched_from"]["run"] == str(out / branches[name][0]), name
            assert state["branched_from"]["step"] == parent["step"] and state["step"] == parent["step"] + 2
            continue
        assert state["step"] == 4
        assert state["train_config"].get("init_from") == (start and str(_model_dir(out, recipe, start))), name
        trained = json.loads((_model_dir(out, recipe, name) / "config.json").read_text())
        quiet = header_quiet(tok) if name in QUIET_PHASES.get(recipe, {}) else {"quiet_open": None, "quiet_close": None}
        assert {k: trained.get(k) for k in quiet} == quiet, name  # headers quiet in training only where named
    for name in [n for n in SOUPS.get(recipe, {}) if n in order]:  # every weight the mean of the two phases' at the soup's share
        a_name, b_name, share, *only = SOUPS[recipe][name]  # with `only`, the weights it does not match stay a's
        assert result["soups"][name] == list(SOUPS[recipe][name])
        a, b, s = (load_model(_model_dir(out, recipe, n)).model.state_dict() for n in (a_name, b_name, name))
        mixed = [w for w in a if not only or re.search(only[0], w)]
        for w in a:
            assert torch.allclose(s[w], (1 - share) * a[w] + share * b[w] if w in mixed else a[w], atol=1e-6), w
        assert any(not torch.equal(s[w], a[w]) for w in mixed) and (only or "emb.weight" in mixed)
    for name in [n for n in GROWS.get(recipe, {}) if n in order]:  # its source's every weight, a block on top
        source, seed = GROWS[recipe][name]
        assert result["grows"][name] == [source, seed]
        src, grown = (load_model(_model_dir(out, recipe, n)) for n in (source, name))
        assert grown.config.n_layer == src.config.n_layer + 1
        g = grown.model.state_dict()
        assert all(torch.equal(g[k], w) for k, w in src.model.state_dict().items())
    if recipe == "bpe":  # trained under its gate, layer 0 cut; a125l is a125's run with its schedule stretched
        a125, a127 = (load_model(_model_dir(out, recipe, n)).config for n in ("a125", "a127"))
        assert (a125.write_gate_layers, a125.write_threshold) == ([0], 0.99)
        assert a127.write_gate_layers == [0, 1, 2] and a127.write_threshold_per_layer == [0.99, 0.2, 0.5, 0.5]
        branched = json.loads((out / "a125l" / "checkpoint" / "state.json").read_text())["branched_from"]
        assert branched["run"] == str(out / "a125") and set(branched["changed"]) == {"steps"}
        a141 = json.loads((out / "a141" / "checkpoint" / "state.json").read_text())["train_config"]
        assert a141["straight_through_layers"] == [1] and a141["gap_fraction"] == 0.25  # from a127: the loop above
        a147 = json.loads((out / "a147" / "checkpoint" / "state.json").read_text())["train_config"]
        assert (a147["short_docs"], a147["short_docs_apart"], a147["gap_fraction"]) == (0.5, True, 0.25)
        assert a147["field_docs"] == a147["unasked_write_weight"] == 0.0  # the quick check has no field files
        a164 = json.loads((out / "a164" / "checkpoint" / "state.json").read_text())["train_config"]
        assert a164["freeze"] == r"^emb\.|^blocks\.0\." and a164["value_write_tasks"] == ["track"]
        assert load_model(out / "a164" / "checkpoint" / "model").config.write_threshold_per_layer == [0.99, 0.3, 0.5, 0.5]
        a156 = json.loads((out / "a156" / "checkpoint" / "state.json").read_text())
        assert a156["train_config"]["value_write_layers"] == [1] and "value_write_weight" in a156["branched_from"]["changed"]
    assert {c["task"] for c in result["cells"]} == {"passkey", "facts=1", "facts=2"}
    assert {c["task"] for c in result["haystack_cells"]} == {"needle", "facts=2", "track"}
    if recipe == "bpe":
        assert (out / "tokenizer.json").exists()
        for name in phases:
            assert json.loads((out / name / "checkpoint" / "model" / "tokenizer.json").read_text())["model"]["type"] == "BPE"
    logs = [(out / n / "log.jsonl").read_text() for n in phases]
    shipped = run_recipe(out, quick=True, recipe=recipe)  # finished phases are not trained again
    assert logs == [(out / n / "log.jsonl").read_text() for n in phases]
    assert shipped["gate"] == gate
    if gate:  # the shipped model's weights under the gate the default ships with
        assert shipped["model_dir"] == str(out / "shipped")
        config = json.loads((out / "shipped" / "config.json").read_text())
        assert {k: config[k] for k in gate} == gate
        trained = json.loads((_model_dir(out, recipe, SHIPPED[recipe]) / "config.json").read_text())
        if recipe == "bpe":  # a164, whose config b164 keeps, trained under the gate it ships with: gating changes nothing
            assert {k: trained[k] for k in gate} == gate
        else:  # p5 trained ungated
            assert trained.get("write_threshold", 0.0) == 0.0
        assert torch.equal(load_model(out / "shipped").model.state_dict()["emb.weight"],
                           load_model(_model_dir(out, recipe, SHIPPED[recipe])).model.state_dict()["emb.weight"])


def test_until_cuts_the_recipe_at_a_phase_and_names_the_phases_when_there_is_none():
    names = [p[0] for p in RECIPES["bpe"]]
    assert [p[0] for p in phases_until("bpe", "r1")] == names[:names.index("r1") + 1]
    assert [p[0] for p in phases_until("bpe", "c4")] == names[:names.index("c4") + 1]
    assert [p[0] for p in phases_until("bpe", "w1")] == names[:names.index("c3") + 1] + ["w1"]  # c3, not c4
    assert "w1" not in [p[0] for p in phases_until("bpe", "c4")]
    assert plan("bpe", "a11")[-3:] == ["c22", "s70", "a11"]  # a11 starts from the soup of c3 and c22
    assert plan("bpe", "a41")[-3:] == ["a16", "a17", "a41"]  # a41 continues a17, not a34
    assert {"a28", "a34"}.isdisjoint(plan("bpe", "a41"))
    assert plan("bpe", "a63")[-6:] == ["a17", "a41", "a59", "a61", "a62", "a63"] and "s70" in plan("bpe", "a63")
    assert plan("bpe", "s70") == [n for n in plan("bpe", "c3")] + ["c22", "s70"]
    assert plan("bpe") == plan("bpe", "b164")  # the default
    assert plan("bpe", "a118")[-7:] == ["a63", "a68", "a69", "a92", "s92", "g92", "a118"]  # the one before
    assert plan("bpe", "s92") == plan("bpe", "a118")[:-2]  # and the one before that
    assert plan("bpe", "s83")[-3:] == ["a69", "a83", "s83"]  # the default before
    assert plan("bpe", "a83") == plan("bpe", "a69") + ["a83"]  # a83 goes on from a69's model
    assert plan("bpe", "a89") == plan("bpe", "a69") + ["a89"]  # so do a89
    assert plan("bpe", "a92") == plan("bpe", "a69") + ["a92"]  # and a92
    assert plan("bpe", "a118") == plan("bpe", "s92") + ["g92", "a118"]  # a118 trains s92 grown by a block
    assert plan("bpe", "a127") == plan("bpe", "a118") + ["a125", "a125l", "a127"]  # the layer-0-off line
    assert plan("bpe", "a133") == plan("bpe", "a127") + ["a133"]  # a127's model trained on
    assert plan("bpe", "a141") == plan("bpe", "a127") + ["a141"]  # and again, with gaps
    assert plan("bpe", "a147") == plan("bpe", "a141") + ["a147"]  # and on, with field files
    assert plan("bpe", "b164") == plan("bpe", "a147") + ["a156", "s156", "a164", "b164"]  # a156 branches from a147
    assert plan("bpe", "a169") == plan("bpe", "s156") + ["a169"]  # a164 with hard negatives, from s156 too
    assert plan("bpe", "a170") == plan("bpe", "s156") + ["a170"]  # and a170, with them over 0.3
    with pytest.raises(ConfigError, match="has no phase, soup or grown model 'c9'; it has s1, "):
        phases_until("bpe", "c9")


_TINY = dict(preset="test", model_overrides={"segment_len": 64}, batch=2, steps=6, warmup=2, save_every=1,
             min_segments=3, max_segments=4, start_max_segments=3, curriculum_steps=4, history_reset=0.3,
             eval_every=0)


def _state(run):
    return json.loads((run / "checkpoint" / "state.json").read_text())


def test_a_branch_phase_continues_its_parents_run_and_leaves_the_parents_model_as_its_phase_chose(
        tmp_path, monkeypatch):
    import docqa.recipe as recipe
    from docqa.train.loop import TrainConfig, train

    monkeypatch.setattr(recipe, "RECIPES", {"t": [("p", 2, _TINY), ("b", 5, {"lr": 1e-4}), ("same", 6, {})]})
    monkeypatch.setattr(recipe, "BRANCHES", {"t": {"b": ("p", 4), "same": ("p", 4)}})
    monkeypatch.setattr(recipe, "SHIPPED", {"t": "same"})
    out = tmp_path / "out"
    assert recipe.plan("t", "b") == ["p", "b"]
    models = recipe._build(out, "t", ["p", "b", "same"], {"device": "cpu"}, quick=False)
    assert _state(out / "p")["step"] == 2 and models["p"] == out / "p" / "checkpoint" / "model"
    assert _state(out / "p-4")["step"] == 4  # the copy that went on to the branch point
    b = _state(out / "b")
    assert b["step"] == 5 and b["branched_from"]["step"] == 4 and b["branched_from"]["changed"] == {"lr": 1e-4}
    train(tmp_path / "straight", TrainConfig(**_TINY))  # a branch that changes nothing is the run itself
    straight = load_model(tmp_path / "straight" / "checkpoint" / "model").model.state_dict()
    same = load_model(models["same"]).model.state_dict()
    assert all(torch.allclose(straight[k], same[k], rtol=1e-5, atol=1e-6) for k in straight)
    logs = {n: (out / n / "log.jsonl").read_text() for n in ("p", "p-4", "b", "same")}
    recipe._build(out, "t", ["p", "b", "same"], {"device": "cpu"}, quick=False)  # finished: nothing again
    assert logs == {n: (out / n / "log.jsonl").read_text() for n in logs}
    monkeypatch.setattr(recipe, "BRANCHES", {"t": {"b": ("p", 1), "same": ("p", 4)}})
    with pytest.raises(ConfigError, match="phase p stopped at step 2, past 1"):
        recipe._build(tmp_path / "again", "t", ["p", "b"], {"device": "cpu"}, quick=False)


def test_every_branch_phase_changes_only_what_a_branch_may_change():
    from docqa.recipe import BRANCHES
    from docqa.train.loop import FIXED_IN_BRANCH, TrainConfig

    for recipe, branches in BRANCHES.items():
        phases = {p[0]: p for p in RECIPES[recipe]}
        for name, (parent, at) in branches.items():
            _, stop, fields = phases[name]
            assert not set(fields) & set(FIXED_IN_BRANCH), name
            assert at < stop and plan(recipe, name)[-2:] == [parent, name]
            TrainConfig.from_dict({**phases[parent][2], **fields})  # every field is one TrainConfig knows


def test_every_phase_that_is_a_new_run_is_a_train_config():
    from docqa.train.loop import TrainConfig

    for recipe, phases in RECIPES.items():
        for name, _, fields in phases:
            if name not in BRANCHES.get(recipe, {}):  # a branch's fields are changes (the test above)
                TrainConfig.from_dict(fields)


def test_the_default_model_runs_with_the_gate_the_recipe_ships():
    lm = load_model()  # docqa/models/default
    gate = shipped_gate("bpe", lm.tokenizer)
    assert {k: getattr(lm.config, k) for k in gate} == gate


def test_a_grown_model_is_its_source_with_a_block_on_top_and_a_phase_trains_on_from_it(tmp_path, monkeypatch):
    """g is p grown (GROWS), q a phase from g that trains only the new block: the plan puts p before g
    before q, g is grow_model's model of p at its seed, and q leaves p's layers as they were."""
    import docqa.recipe as recipe
    from docqa.model.io import grow_model

    monkeypatch.setattr(recipe, "RECIPES", {"t": [("p", 2, _TINY), ("q", 3, dict(_TINY, freeze=r"^(?!blocks\.2\.)"))]})
    monkeypatch.setattr(recipe, "GROWS", {"t": {"g": ("p", 7)}})
    monkeypatch.setattr(recipe, "STARTS_FROM", {"q": "g"})
    assert recipe.plan("t", "q") == ["p", "g", "q"] and recipe.plan("t", "g") == ["p", "g"]
    out = tmp_path / "out"
    models = recipe._build(out, "t", ["p", "g", "q"], {"device": "cpu"}, quick=False)
    assert models["g"] == out / "g" and _state(out / "q")["train_config"]["init_from"] == str(out / "g")
    p, g, q = (load_model(models[n]) for n in "pgq")
    assert p.config.n_layer == 2 and g.config.n_layer == q.config.n_layer == 3
    grow_model(models["p"], tmp_path / "again", 7)  # the seed's model, whoever grows it
    again = load_model(tmp_path / "again").model.state_dict()
    gs, ps, qs = (m.model.state_dict() for m in (g, p, q))
    assert all(torch.equal(gs[k], again[k]) for k in gs)
    assert all(torch.equal(qs[k], ps[k]) for k in ps)  # p's weights, frozen in q
    assert not torch.equal(qs["blocks.2.attn.proj.weight"], gs["blocks.2.attn.proj.weight"])  # the new block trained
    log = (out / "q" / "log.jsonl").read_text()
    recipe._build(out, "t", ["p", "g", "q"], {"device": "cpu"}, quick=False)  # made again: q is not trained again
    assert (out / "q" / "log.jsonl").read_text() == log


def test_each_former_default_runs_with_the_gate_the_recipe_names_for_it():
    """a118's gate (FORMER_GATES) is the one checkpoints/bpe-a118 runs with, and cut to three layers it is
    s92's, the default before a block was grown; the current gate cuts layer 0, which a118's did not."""
    root = Path(__file__).resolve().parents[1]
    tok = load_model().tokenizer
    a118 = shipped_gate("bpe", tok, shipped="a118")
    assert a118 == {**FORMER_GATES["bpe"]["a118"], **header_quiet(tok)} != shipped_gate("bpe", tok)
    assert a118["write_gate_layers"] == [1, 2] and SHIPPED_GATE["bpe"]["write_gate_layers"] == [0, 1, 2]
    former = load_model(root / "checkpoints" / "bpe-a118").config
    assert {k: getattr(former, k) for k in a118} == a118
    three = shipped_gate("bpe", tok, n_layer=3, shipped="a118")  # s92's, as it shipped (checkpoints/bpe-s92)
    assert three == {**a118, "write_threshold_per_layer": [0.1, 0.2, 0.5]}
    s92 = load_model(root / "checkpoints" / "bpe-s92").config
    assert {k: getattr(s92, k) for k in three} == three
    with pytest.raises(ConfigError, match="gates layers \\[1, 2\\]; it does not fit 2 layers"):
        shipped_gate("bpe", tok, n_layer=2, shipped="a118")
    a147 = shipped_gate("bpe", tok, shipped="a147")  # the default before: layer 1 above 0.2, not 0.3
    assert a147["write_threshold_per_layer"] == [0.99, 0.2, 0.5, 0.5] != SHIPPED_GATE["bpe"]["write_threshold_per_layer"]
    former = load_model(root / "checkpoints" / "bpe-a147-s50").config
    assert {k: getattr(former, k) for k in a147} == a147
    with pytest.raises(ConfigError, match="has no former default 's70' with a gate; it has a147, a118"):
        shipped_gate("bpe", tok, shipped="s70")
