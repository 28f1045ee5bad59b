"""Retention spreads the kept checkpoints over the stream; a corpus records how its stream is read."""

import pytest

from docqa.store.retention import thin
from docqa.store.stream import encode


def _gaps(kept_tokens, end):
    points = [0, *sorted(kept_tokens), end]
    return [b - a for a, b in zip(points, points[1:])]


def test_thinning_an_even_stream_keeps_every_other_one():
    points = [(i, 100 * i) for i in range(1, 16)]  # 15 checkpoints, 100 tokens apart, current at 1,600
    dropped = thin(points, keep=7, end=1600)
    kept = [t for i, t in points if i not in dropped]
    assert kept == [200, 400, 600, 800, 1000, 1200, 1400]
    assert max(_gaps(kept, 1600)) == 200


def test_thinning_uneven_checkpoints_leaves_no_long_stretch():
    # dense at the end (where an old "newest only" policy kept them), sparse at the start
    points = [(1, 5000)] + [(i, 9000 + 10 * i) for i in range(2, 60)]
    dropped = thin(points, keep=4, end=10_000)
    kept = sorted(t for i, t in points if i not in dropped)
    assert kept[0] == 5000 and len(kept) == 4  # the only checkpoint in the first half is never dropped
    assert max(_gaps(kept, 10_000)) == 5000  # no choice of 4 does better: [0, 5000] has no other


def test_thinning_prefers_dropping_the_older_of_two_at_one_place():
    assert thin([(3, 50), (7, 50), (9, 80)], keep=2, end=100) == [3]


@pytest.mark.parametrize("keep", [0, 1, 5, 30])
def test_thinning_returns_exactly_the_surplus_and_each_id_once(keep):
    points = [(i, (i * 37) % 101) for i in range(1, 31)]
    dropped = thin(points, keep=keep, end=200)
    assert len(dropped) == 30 - keep and len(set(dropped)) == len(dropped)
    assert set(dropped) <= {i for i, _ in points}


def test_stream_options_are_stored_without_a_password(store, corpus):
    assert store.stream_options(corpus) == (None, {})
    store.set_stream_options(corpus, "repo", {"include": ("*.md",), "password": "hunter2",
                                              "skip_dirs": frozenset({"b", "a"}), "exclude": None})
    assert store.stream_options(corpus) == ("repo", {"include": ["*.md"], "skip_dirs": ["a", "b"]})
    assert "hunter2" not in encode("repo", {"password": "hunter2"})


def test_stream_options_without_a_json_form_are_not_stored(store, corpus):
    store.set_stream_options(corpus, "repo", {"include": ["*.md"]})
    store.set_stream_options(corpus, "custom", {"client": object()})
    assert store.stream_options(corpus) == (None, {})  # unknown, rather than half of it
