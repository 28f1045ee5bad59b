import json

import pytest
import torch

from docqa.errors import ConfigError
from docqa.model.io import load_model
from docqa.recipe import RECIPES, SHIPPED, SHIPPED_GATE, SHIPPED_SOUP, STARTS_FROM, phases_until, run_recipe


@pytest.mark.parametrize("recipe", ["byte", "bpe"])
def test_quick_recipe_trains_every_phase_then_benches_and_resumes(tmp_path, recipe):
    phases = phases_until(recipe)  # up to the shipped model's phase
    assert phases[-1][0] == SHIPPED[recipe]
    hay = tmp_path / "hay"
    hay.mkdir()
    (hay / "a.txt").write_text("The river winds through the valley, past mills and quiet farms.\n" * 80)
    soup = SHIPPED_SOUP.get(recipe)
    if soup:  # the soup's other phase and whatever leads to it that the shipped chain lacks
        phases += [p for p in phases_until(recipe, soup[0]) if p not in phases]
    result = run_recipe(tmp_path / "out", quick=True, recipe=recipe, haystack=[str(hay)])
    out = tmp_path / "out"
    assert result["phases"] == [p[0] for p in phases]
    if soup:  # every weight the mean of the two phases' at the soup's share
        a, b, s = (load_model(d).model.state_dict() for d in
                   (out / SHIPPED[recipe] / "checkpoint" / "model", out / soup[0] / "checkpoint" / "model", out / "shipped"))
        for name in a:
            assert torch.allclose(s[name], (1 - soup[1]) * a[name] + soup[1] * b[name], atol=1e-6), name
        assert not torch.equal(s["emb.weight"], a["emb.weight"])
        other = json.loads((out / soup[0] / "checkpoint" / "state.json").read_text())
        assert other["train_config"]["init_from"] == str(out / STARTS_FROM[soup[0]] / "checkpoint" / "model")
    for name, _, _ in phases:
        assert json.loads((out / name / "checkpoint" / "state.json").read_text())["step"] == 4
    if len(phases) > 1:
        second = json.loads((out / phases[1][0] / "checkpoint" / "state.json").read_text())
        assert second["train_config"]["init_from"] == str(out / phases[0][0] / "checkpoint" / "model")
    gate = SHIPPED_GATE.get(recipe)
    assert result["gate"] == gate
    if gate:  # the shipped phase's weights under the gate the default ships with
        assert result["model_dir"] == str(out / "shipped")
        shipped = json.loads((out / "shipped" / "config.json").read_text())
        assert {k: shipped[k] for k in gate} == gate
        trained = json.loads((out / phases[-1][0] / "checkpoint" / "model" / "config.json").read_text())
        assert trained.get("write_threshold", 0.0) == 0.0
    assert {c["task"] for c in result["cells"]} == {"passkey", "facts=1", "facts=2"}
    assert {c["task"] for c in result["haystack_cells"]} == {"needle", "facts=2", "track"}
    if recipe == "bpe":
        assert (out / "tokenizer.json").exists()
        for name, _, _ in phases:
            assert json.loads((out / name / "checkpoint" / "model" / "tokenizer.json").read_text())["model"]["type"] == "BPE"
    logs = [(out / n / "log.jsonl").read_text() for n, _, _ in phases]
    run_recipe(out, quick=True, recipe=recipe)  # finished phases are not trained again
    assert logs == [(out / n / "log.jsonl").read_text() for n, _, _ in phases]


def test_until_cuts_the_recipe_at_a_phase_and_names_the_phases_when_there_is_none():
    names = [p[0] for p in RECIPES["bpe"]]
    assert [p[0] for p in phases_until("bpe", "r1")] == names[:names.index("r1") + 1]
    assert [p[0] for p in phases_until("bpe", "c4")] == names[:names.index("c4") + 1]
    assert [p[0] for p in phases_until("bpe", "w1")] == names[:names.index("c3") + 1] + ["w1"]  # c3, not c4
    assert "w1" not in [p[0] for p in phases_until("bpe", "c4")]
    with pytest.raises(ConfigError, match="has no phase 'c9'; its phases: s1, "):
        phases_until("bpe", "c9")
