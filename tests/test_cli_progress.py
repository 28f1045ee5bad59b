"""How `docqa ingest` renders progress events: a live line on a terminal, plain lines elsewhere."""

from docqa.cli.progress import EVERY_S, IngestProgress
from docqa.ingest import Progress


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def event(t, done, total=100_000, position=0, checking=False, streamed=None):
    streamed = done if streamed is None else streamed
    return Progress(position=position, tokens=int(done), streamed=int(streamed), done_bytes=done,
                    streamed_bytes=streamed, total_bytes=total, elapsed=t, uri="a.txt", checking=checking)


def run(tty, events):
    clock, out = Clock(), []
    shown = IngestProgress(tty=tty, clock=clock, echo=lambda text, nl=True: out.append((text, nl)))
    for t, e in events:
        clock.t = t
        shown(e)
    shown.finish()
    return shown, out


def test_without_a_terminal_a_plain_line_every_half_minute():
    events = [(t, event(t, 500.0 * t, position=t // 10)) for t in range(0, 101)]  # 500 bytes/s
    _, out = run(False, events)
    assert len(out) == 100 // EVERY_S == 3  # at 30 s, 60 s and 90 s
    assert all(nl and not text.startswith("\r") for text, nl in out)
    assert out[0][0] == "3 sources  15,000 tokens  500 tok/s  15%  ETA 2m50s"


def test_on_a_terminal_one_line_redrawn_then_ended():
    events = [(t / 2, event(t / 2, 1000.0 * t, position=t)) for t in range(0, 10)]
    _, out = run(True, events)
    assert all(text.startswith("\r") and not nl for text, nl in out[:-1]) and len(out) == 11
    assert out[-1] == ("", True)  # what the command prints next starts on its own line


def test_the_eta_holds_steady_through_files_of_very_different_sizes():
    """The model reads 1,000 bytes/s; sources of 100 bytes and 20,000 bytes alternate. The ETA
    counts bytes, not sources, and a smoothed rate, so it tracks the truth as time goes."""
    events, t, done, total = [], 0.0, 0.0, 400_000
    sizes = [100, 20_000] * 19
    for i, size in enumerate(sizes):
        t, done = t + size / 1000, done + size
        events.append((t, event(t, done, total=total, position=i + 1)))
    shown, _ = run(False, [])
    clock = Clock()
    shown.clock = clock
    for t, e in events:
        clock.t = t
        shown(e)
        if t > 60:
            truth = (total - e.done_bytes) / 1000
            assert abs(shown.eta(e) - truth) < 0.05 * truth + 1


def test_comparing_with_the_corpus_is_shown_as_such_and_does_not_count_as_speed():
    events = [(t, event(t, 2000.0 * t, position=t, checking=True, streamed=0)) for t in range(0, 40)]
    events += [(40 + t, event(40 + t, 80_000 + 100.0 * t, position=40 + t, streamed=100.0 * t)) for t in range(0, 40)]
    shown, out = run(False, events)
    assert out[0][0] == "30 sources checked against the corpus, unchanged so far"
    assert "100 tok/s" in out[1][0]  # the rate is the streaming's, not the checking's
    assert shown.eta(events[-1][1]) == (100_000 - events[-1][1].done_bytes) / 100
