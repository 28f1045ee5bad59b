"""`docqa bench sources`: its corpora, its needle, and its table, on the shipped model."""

import json

from click.testing import CliRunner

from docqa.bench.sources import doc_name, format_table, hide
from docqa.cli.main import cli


def test_document_names_carry_no_digit_and_sort_in_stream_order():
    names = [doc_name(i) for i in range(0, 5000, 7)]
    assert sorted(names) == names and len(set(names)) == len(names)
    assert not any(c.isdigit() for name in names for c in name)


def test_the_needle_goes_to_the_sentence_boundary_nearest_the_middle():
    text = "One two. Three four five. Six seven. Eight nine ten eleven."
    assert hide(text, "NEEDLE. ") == "One two. Three four five. NEEDLE. Six seven. Eight nine ten eleven."
    assert hide("no boundary here", "N. ") == "N. no boundary here"


def test_bench_sources_json_and_table(tmp_path):
    hay = tmp_path / "hay"
    hay.mkdir()
    for i in range(3):
        (hay / f"{i}.txt").write_text("The sky is blue. The grass is green. " * 8)
    out = CliRunner().invoke(cli, ["bench", "sources", "--n-docs", "3,5", "--trials", "1", "--trials-for", "5=2",
                                   "--json"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    cells = result["cells"]
    assert [(c["n_docs"], c["trials"], c["no_answer_trials"]) for c in cells] == [(3, 1, 1), (5, 2, 2)]
    assert all(c["top1_truth"] == 1.0 for c in cells)  # the pass key is found in its document
    assert all(c["forward_passes"] >= 3 and c["seconds"] > 0 for c in cells)
    for c in cells:  # each needle trial the model got wrong names its document, the pass key and the answer
        assert len(c["misses"]) == round(c["trials"] * (1 - c["answered"]))
        for m in c["misses"]:
            assert 0 <= m["doc"] < c["n_docs"] and m["got"] != m["answer"] and m["answer"].isdigit()
    assert format_table([]).splitlines()[0].startswith("| N docs | trials | top-1 = needle's doc |")
    out = CliRunner().invoke(cli, ["bench", "sources", "--n-docs", "2", "--trials", "1", "--haystack", str(hay)],
                             catch_exceptions=False)
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert lines[0].endswith(f"haystack {hay}, documents of 256 bytes, checkpoints every 64 segments, 1000 kept, cpu")
    assert lines[-1].startswith("| 2 | 1 |")
    bad = CliRunner().invoke(cli, ["bench", "sources", "--trials-for", "1000"])
    assert bad.exit_code == 2 and "'1000': give N=TRIALS, e.g. 1000=5" in bad.output
