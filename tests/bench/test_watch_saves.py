"""benchmarks/watch_saves.sh: every listed check of every save that lands runs once, even with two watchers.

The watcher is run beside a stand-in ship_checks.sh (it calls the one in its own folder) that records each
call, so the test is about the watcher's bookkeeping, not the benches."""

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

STAND_IN = """#!/usr/bin/env bash
# model out kind: record the call, then write the check's JSON as ship_checks.sh does
echo "$1 $3" >> "$CALLS"
sleep 0.2
[ "$3" = broken ] && exit 3
echo '{}' > "$2/$3.json"
"""


def _setup(tmp_path: Path) -> dict:
    bin_dir = tmp_path / "bench"
    bin_dir.mkdir()
    shutil.copy(ROOT / "benchmarks" / "watch_saves.sh", bin_dir / "watch_saves.sh")
    (bin_dir / "ship_checks.sh").write_text(STAND_IN)
    docqa = tmp_path / "path" / "docqa"  # the watcher refuses to start without docqa on PATH
    docqa.parent.mkdir()
    docqa.write_text("#!/bin/sh\n")
    docqa.chmod(0o755)
    for step in (10, 20):
        (tmp_path / "run" / "models" / f"step-{step}").mkdir(parents=True)
    return dict(os.environ, PATH=f"{docqa.parent}:{os.environ['PATH']}", CALLS=str(tmp_path / "calls"))


def _watch(tmp_path: Path, env: dict, n: int = 1) -> list[subprocess.CompletedProcess]:
    procs = [subprocess.Popen(["bash", str(tmp_path / "bench" / "watch_saves.sh"), "list", "out"], cwd=tmp_path,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(n)]
    done = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        done.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    return done


def test_two_watchers_run_each_listed_check_once_in_the_listed_order(tmp_path):
    env = _setup(tmp_path)
    (tmp_path / "list").write_text("# the later save first\nrun 20 needles track60\n\nrun 10 needles\n")
    results = _watch(tmp_path, env, n=2)
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    calls = (tmp_path / "calls").read_text().splitlines()
    assert sorted(calls) == sorted(["run/models/step-20 needles", "run/models/step-20 track60",
                                    "run/models/step-10 needles"])
    assert calls[-1] == "run/models/step-10 needles"  # listed last, claimed last
    for check in ("run-s20/needles.json", "run-s20/track60.json", "run-s10/needles.json"):
        assert (tmp_path / "out" / check).exists()


def test_a_failed_check_is_not_run_again_and_the_rest_go_on(tmp_path):
    env = _setup(tmp_path)
    (tmp_path / "list").write_text("run 10 broken needles\n")
    (result,) = _watch(tmp_path, env)
    assert result.returncode == 0
    assert "broken of run step 10 failed" in result.stderr
    assert (tmp_path / "calls").read_text().splitlines() == ["run/models/step-10 broken",
                                                             "run/models/step-10 needles"]
    assert (tmp_path / "out" / "run-s10" / "needles.json").exists()
    assert not (tmp_path / "out" / "run-s10" / "broken.json").exists()


def test_without_docqa_on_path_it_stops_before_claiming_anything(tmp_path):
    env = _setup(tmp_path)
    env["PATH"] = "/usr/bin:/bin"
    (tmp_path / "list").write_text("run 10 needles\n")
    (result,) = _watch(tmp_path, env)
    assert result.returncode == 1 and "activate the project's venv" in result.stderr
    assert not (tmp_path / "out").exists()
