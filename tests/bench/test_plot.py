"""docqa.bench.plot: a haystack bench of one kind of cell draws only that panel."""

from __future__ import annotations

import warnings

import pytest

from docqa.bench.haystack import HayCell

pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")

from docqa.bench.plot import plot_haystack  # noqa: E402


def cells(task: str, xs: list[int]) -> list[HayCell]:
    return [HayCell(task if task == "needle" else f"facts={x}", split, x if task == "needle" else 2048,
                    "middle" if task == "needle" else "spread", 4, 0.5, 0.0, 1.0)
            for x in xs for split in ("train", "heldout")]


@pytest.mark.parametrize("kind", ["needle", "facts"])
def test_a_bench_of_one_kind_plots_without_an_empty_panel(tmp_path, monkeypatch, kind):
    import matplotlib.pyplot as plt

    drawn = []
    real = plt.Figure.savefig

    def spy(fig, *args, **kwargs):
        drawn.append([ax.get_title() for ax in fig.axes])
        return real(fig, *args, **kwargs)

    monkeypatch.setattr(plt.Figure, "savefig", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns when a panel has no lines to label
        plot_haystack(cells(kind, [1, 2, 4]), tmp_path / "p.png", "t")
    assert (tmp_path / "p.png").stat().st_size > 0
    assert drawn == [["needles, mean over depths" if kind == "needle" else "named facts"]]


def test_the_code_plot_draws_each_cell_as_the_bench_reports_it(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    from docqa.bench.code import CodeCell
    from docqa.bench.plot import plot_code

    cells = [CodeCell("params", "train", 5, 0.4, 0.2, 0.6, 1.5, []),
             CodeCell("params", "heldout", 5, 0.2, 0.0, 0.8, -0.3, []),
             CodeCell("base", "train", 2, 1.0, 0.5, 0.0, 2.25, [])]
    figures = []
    real = plt.Figure.savefig
    monkeypatch.setattr(plt.Figure, "savefig", lambda fig, *a, **k: figures.append(fig) or real(fig, *a, **k))
    plot_code(cells, tmp_path / "c.png", "t")
    assert (tmp_path / "c.png").stat().st_size > 0
    [fig] = figures
    exact_ax, gain_ax = fig.axes
    bars = {c.get_label(): [round(b.get_height(), 6) for b in c] for c in exact_ax.containers}
    assert bars == {"docqa": [0.4, 0.2, 1.0], "memory knocked out": [0.2, 0.0, 0.5], "FTS5 top-1": [0.6, 0.8, 0.0]}
    assert [round(b.get_height(), 6) for b in gain_ax.containers[0]] == [1.5, -0.3, 2.25]
    assert [t.get_text() for t in gain_ax.get_xticklabels()][1] == "params\nheldout (n 5)"
