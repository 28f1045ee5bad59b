"""PNG plots for the recall benchmark (matplotlib, an optional extra: `pip install docqa[plot]`)."""

from __future__ import annotations

from pathlib import Path

from docqa.errors import InputError


def require_matplotlib() -> None:
    """Raise InputError now, before a bench runs for minutes, if its --plot could not be drawn."""
    _pyplot()


def _pyplot():
    try:
        import matplotlib
    except ImportError as e:
        raise InputError("plotting needs matplotlib: pip install 'docqa[plot]'") from e
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_recall(cells, path: Path, title: str) -> None:
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    passkey = [c for c in cells if c.task == "passkey"]
    for depth in dict.fromkeys(c.depth for c in passkey):
        row = [c for c in passkey if c.depth == depth]
        ax1.plot([c.length for c in row], [c.exact for c in row], "o-", label=f"{depth}")
        ax1.plot([c.length for c in row], [c.knockout_exact for c in row], "x--", alpha=0.6,
                 label=f"{depth}, memory knocked out")
    ax1.set(xscale="log", xlabel="context length (tokens)", ylabel="passkey exact match", ylim=(-0.05, 1.05),
            title="passkey by length and depth")
    ax1.legend(fontsize=7)
    facts = [c for c in cells if c.task.startswith("facts=")]
    if facts:
        counts = [int(c.task.split("=")[1]) for c in facts]
        ax2.plot(counts, [c.exact for c in facts], "o-", label="exact")
        ax2.plot(counts, [c.knockout_exact for c in facts], "x--", label="memory knocked out")
        ax2.set(xscale="log", xlabel="facts stored", ylabel="exact match", ylim=(-0.05, 1.05),
                title=f"facts at {facts[0].length} tokens")
        ax2.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_haystack(cells, path: Path, title: str) -> None:
    """Needles by length (docqa, knockout and FTS5, per split) and the named-facts curve, each
    panel only when the bench has its cells (`--lengths ""` runs the facts curve alone)."""
    plt = _pyplot()
    prefixes = [p for p in ("needle", "facts=") if any(c.task.startswith(p) for c in cells)]
    if not prefixes:
        raise InputError("nothing to plot: the bench has no needle or named-facts cells")
    fig, axes = plt.subplots(1, len(prefixes), figsize=(5.5 * len(prefixes), 4), squeeze=False)
    for ax, prefix in zip(axes[0], prefixes):
        for split in dict.fromkeys(c.split for c in cells):
            rows = [c for c in cells if c.task.startswith(prefix) and c.split == split]
            if not rows:
                continue
            xs = sorted({c.length if prefix == "needle" else int(c.task.split("=")[1]) for c in rows})

            def mean(attr, x):
                sel = [getattr(c, attr) for c in rows if (c.length if prefix == "needle" else int(c.task.split("=")[1])) == x]
                return sum(sel) / len(sel)

            ax.plot(xs, [mean("exact", x) for x in xs], "o-", label=f"docqa, {split}")
            ax.plot(xs, [mean("knockout", x) for x in xs], "x--", alpha=0.6, label=f"knockout, {split}")
            ax.plot(xs, [mean("fts", x) for x in xs], "s:", alpha=0.6, label=f"FTS5 top-1, {split}")
        ax.set(xscale="log", ylim=(-0.05, 1.05), ylabel="exact match",
               xlabel="context length (tokens)" if prefix == "needle" else "named facts stored",
               title="needles, mean over depths" if prefix == "needle" else "named facts")
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_code(cells, path: Path, title: str) -> None:
    """`docqa bench code` as two bar panels over its (question kind, phrasing) cells: exact match
    beside the knockout and FTS5's top chunk, and the memory's gain in nats a token, which moves
    before exact match does."""
    plt = _pyplot()
    if not cells:
        raise InputError("nothing to plot: the bench has no cells")
    labels = [f"{c.kind}\n{c.split} (n {c.n})" for c in cells]
    xs = range(len(cells))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(max(8.0, 1.1 * len(cells)) * 1.6, 4.5))
    width = 0.27
    for i, (attr, label) in enumerate([("exact", "docqa"), ("knockout", "memory knocked out"), ("fts", "FTS5 top-1")]):
        ax1.bar([x + (i - 1) * width for x in xs], [getattr(c, attr) for c in cells], width, label=label)
    ax1.set(ylim=(0, 1.05), ylabel="exact match", title="code questions")
    ax2.bar(list(xs), [c.gain for c in cells], 0.6, color="tab:green")
    ax2.axhline(0, color="black", linewidth=0.8)
    ax2.set(ylabel="nats per answer token", title="what the memory adds to the true answer")
    for ax in (ax1, ax2):
        ax.set_xticks(list(xs), labels, fontsize=7)
    ax1.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
