import json

from docqa.train.recipe import PHASES, run_recipe


def test_quick_recipe_trains_every_phase_then_benches_and_resumes(tmp_path):
    result = run_recipe(tmp_path, quick=True)
    assert result["phases"] == [p[0] for p in PHASES]
    for name, _, _ in PHASES:
        assert json.loads((tmp_path / name / "checkpoint" / "state.json").read_text())["step"] == 4
    p3 = json.loads((tmp_path / "p3" / "checkpoint" / "state.json").read_text())
    assert p3["train_config"]["init_from"] == str(tmp_path / "r2" / "checkpoint" / "model")
    assert {c["task"] for c in result["cells"]} == {"passkey", "facts=1", "facts=2"}
    logs = [(tmp_path / n / "log.jsonl").read_text() for n, _, _ in PHASES]
    run_recipe(tmp_path, quick=True)  # finished phases are not trained again
    assert logs == [(tmp_path / n / "log.jsonl").read_text() for n, _, _ in PHASES]
