import textwrap
from pathlib import Path

import pytest

from docqa.errors import InputError
from docqa.train.codefacts import QUESTIONS, CodeFact, code_facts


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, src in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(src, bytes):
            path.write_bytes(src)
        else:
            path.write_text(textwrap.dedent(src))
    return root


def facts_of(root: Path, kind: str) -> dict[str, str]:
    return {f.subject: f.answer for f in code_facts(root) if f.kind == kind}


def test_defines_gives_the_relative_posix_path(tmp_path):
    write(tmp_path, {"pkg/sub/mod.py": "def helper(x):\n    pass\nclass Thing:\n    pass\n"})
    assert code_facts(tmp_path) == [
        CodeFact("defines", "helper", "pkg/sub/mod.py", "pkg/sub/mod.py"),
        CodeFact("params", "helper", "x", "pkg/sub/mod.py"),
        CodeFact("defines", "Thing", "pkg/sub/mod.py", "pkg/sub/mod.py"),
    ]


def test_name_defined_in_two_files_gives_no_fact(tmp_path):
    write(tmp_path, {"a.py": "def load(path):\n    pass\ndef only_a(x):\n    pass\n",
                     "b.py": "class load:\n    pass\n"})
    facts = code_facts(tmp_path)
    assert not [f for f in facts if f.subject == "load"]
    assert facts_of(tmp_path, "defines") == {"only_a": "a.py"}


def test_private_names_and_nested_defs_are_left_out(tmp_path):
    write(tmp_path, {"m.py": """
        def _hidden(a):
            def inner(b):
                pass
        class Outer(Base):
            def method(self, c):
                pass
        """})
    assert {f.subject for f in code_facts(tmp_path)} == {"Outer"}


def test_defs_under_module_level_if_and_try_count(tmp_path):
    write(tmp_path, {"m.py": """
        import sys
        if sys.platform == "win32":
            def pick(a):
                pass
        else:
            def pick(a, b):
                pass
        try:
            import fast
        except ImportError:
            def fallback(x):
                pass
        """})
    # pick is in one file, but defined twice: the file is certain, the parameters are not
    assert facts_of(tmp_path, "defines") == {"pick": "m.py", "fallback": "m.py"}
    assert facts_of(tmp_path, "params") == {"fallback": "x"}


def test_params_keep_order_across_every_kind(tmp_path):
    write(tmp_path, {"m.py": """
        def full(a, b=1, /, c=2, *args, d, e=3, **kw):
            pass
        async def fetch(url, *, timeout=None):
            pass
        def bare_star(x, *, y):
            pass
        def nothing():
            pass
        """})
    assert facts_of(tmp_path, "params") == {
        "full": "a, b, c, *args, d, e, **kw",
        "fetch": "url, timeout",
        "bare_star": "x, y",
    }


def test_constants_only_from_single_literal_assignments(tmp_path):
    write(tmp_path, {"a.py": f"""
        PORT = 8080
        RATIO: float = 0.25
        NAME = "docqa"
        LONG = "{'x' * 41}"
        EDGE = "{'y' * 40}"
        DEBUG = False
        NEG = -1
        SUM = 1 + 2
        ITEMS = [1, 2]
        FROM_CALL = int("3")
        TWICE = 1
        TWICE = 2
        BUMPED = 1
        BUMPED += 1
        PAIR_A, PAIR_B = 1, 2
        UNPACK_A, UNPACK_B = "ab"
        lower = 5
        _PRIVATE = 6
        A = B = 7
        def f():
            LOCAL = 9
        """,
        "b.py": "SHARED = 1\n", "c.py": "SHARED = 1\n"})
    assert facts_of(tmp_path, "constant") == {
        "PORT": "8080", "RATIO": "0.25", "NAME": "'docqa'", "EDGE": repr("y" * 40),
        "A": "7", "B": "7",
    }


def test_a_constant_reassigned_in_another_module_is_ambiguous(tmp_path):
    write(tmp_path, {"a.py": "LIMIT = 10\n", "b.py": "LIMIT = compute()\n"})
    assert facts_of(tmp_path, "constant") == {}


def test_base_only_for_one_plain_base(tmp_path):
    write(tmp_path, {"m.py": """
        import abc
        class A(Exception):
            pass
        class B(abc.ABC, metaclass=abc.ABCMeta):
            pass
        class C(A, B):
            pass
        class D(Generic[T]):
            pass
        class E:
            pass
        class F(make_base()):
            pass
        """})
    assert facts_of(tmp_path, "base") == {"A": "Exception", "B": "abc.ABC"}


def test_unparsable_and_non_utf8_files_are_skipped(tmp_path):
    write(tmp_path, {"bad.py": "def broken(:\n",
                     "latin.py": "def caf\xe9(x): pass\n".encode("latin-1"),
                     "nul.py": b"def nul(x):\n    pass\n\x00",
                     "good.py": "def fine(x):\n    pass\n"})
    assert facts_of(tmp_path, "defines") == {"fine": "good.py"}


def test_pycache_hidden_dirs_and_other_suffixes_are_not_read(tmp_path):
    write(tmp_path, {"__pycache__/a.py": "def cached(x): pass\n",
                     ".git/b.py": "def hidden(x): pass\n",
                     "notes.txt": "def text(x): pass\n",
                     "tests/test_c.py": "def test_c(x): pass\n"})
    assert facts_of(tmp_path, "defines") == {"test_c": "tests/test_c.py"}


def test_max_files_takes_the_first_files_in_sorted_order(tmp_path):
    write(tmp_path, {"b.py": "def two(x): pass\n", "a/z.py": "def one(x): pass\n",
                     "c.py": "def three(x): pass\n", "a/y/q.py": "def zero(x): pass\n"})
    assert [f.subject for f in code_facts(tmp_path) if f.kind == "defines"] == \
        ["zero", "one", "two", "three"]
    assert [f.subject for f in code_facts(tmp_path, max_files=2) if f.kind == "defines"] == \
        ["zero", "one"]
    assert code_facts(tmp_path, max_files=0) == []


def test_uniqueness_is_judged_within_the_files_read(tmp_path):
    write(tmp_path, {"a.py": "def dup(x): pass\n", "b.py": "def dup(y): pass\n"})
    assert facts_of(tmp_path, "defines") == {}
    assert [f.answer for f in code_facts(tmp_path, max_files=1) if f.kind == "params"] == ["x"]


def test_output_does_not_depend_on_file_creation_order(tmp_path):
    files = {f"d{i % 3}/m{i}.py": f"X{i} = {i}\ndef f{i}(a, b): pass\nclass K{i}(Base): pass\n"
             for i in range(20)}
    forward = write(tmp_path / "forward", files)
    backward = write(tmp_path / "backward", dict(reversed(files.items())))
    facts = code_facts(forward)
    assert facts == code_facts(backward)
    assert len(facts) == 20 * 5
    assert [f.path for f in facts] == sorted(f.path for f in facts)


def test_questions_cover_every_kind(tmp_path):
    write(tmp_path, {"m.py": "LIMIT = 3\ndef f(a): pass\nclass K(Base): pass\n"})
    facts = code_facts(tmp_path)
    assert {f.kind for f in facts} == set(QUESTIONS)
    assert CodeFact("params", "f", "a", "m.py").question == "What are the parameters of f?"


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(InputError, match="needs a directory"):
        code_facts(tmp_path / "missing")
    with pytest.raises(InputError, match="max_files must be >= 0 or None, got -1"):
        code_facts(tmp_path, max_files=-1)


def test_renamed_subjects_are_whole_words_in_text_and_answers_and_defines_is_dropped(tmp_path):
    from docqa.train.codefacts import rename_subjects

    src = textwrap.dedent('''\
        LIMIT = 'LIMIT'
        class Reader(Base):
            pass
        class Cached(Reader):
            pass
        def fetch(url, limit=LIMIT):
            return fetcher(Reader(url))
        def pick(fetch):
            return fetch
        ''')
    write(tmp_path, {"m.py": src})
    facts = code_facts(tmp_path)
    new = {"LIMIT": "MAX_KITE", "Reader": "TroCabin", "Cached": "LedgerBox", "fetch": "load_ferry", "pick": "scan_it"}
    text, renamed = rename_subjects(src, facts, new.__getitem__)
    assert "fetcher(TroCabin(url))" in text, "a longer name that starts with a subject is not renamed"
    assert "def pick" not in text and "def scan_it(load_ferry):" in text
    assert {(f.kind, f.subject, f.answer) for f in renamed} == {
        ("constant", "MAX_KITE", "'MAX_KITE'"), ("base", "TroCabin", "Base"), ("base", "LedgerBox", "TroCabin"),
        ("params", "load_ferry", "url, limit"), ("params", "scan_it", "load_ferry")}
    # every renamed fact is what code_facts finds in the renamed source
    write(tmp_path, {"m.py": text})
    assert set(renamed) == {f for f in code_facts(tmp_path) if f.kind != "defines"}


def test_a_drawn_name_already_in_the_module_is_drawn_again(tmp_path):
    from docqa.train.codefacts import rename_subjects

    src = "def fetch(url):\n    return load(url)\n"
    write(tmp_path, {"m.py": src})
    draws = iter(["load", "fetch", "send"])
    text, [fact] = rename_subjects(src, code_facts(tmp_path), lambda old: next(draws))
    assert fact.subject == "send" and text == "def send(url):\n    return load(url)\n"
    with pytest.raises(ValueError, match="100 names drawn for 'fetch'"):
        rename_subjects(src, code_facts(tmp_path), lambda old: "load")


def test_top_level_chunks_join_back_and_keep_decorators_and_comments_with_their_statement(tmp_path):
    from docqa.train.codefacts import facts_in, top_level_chunks

    src = textwrap.dedent('''\
        """Doc."""
        import os

        # the limit
        LIMIT = 3


        @decorate
        @twice
        def fetch(url):
            if url:
                return os.sep
        class Reader(Base):
            def fetch(self, other):
                pass
        ''')
    chunks = top_level_chunks(src)
    assert "".join(chunks) == src
    assert [c.lstrip("\n").splitlines()[0] for c in chunks] == ['"""Doc."""', "import os", "# the limit", "@decorate",
                                                              "class Reader(Base):"]
    assert top_level_chunks("def broken(:\n") == ["def broken(:\n"]
    write(tmp_path, {"m.py": src})
    facts = code_facts(tmp_path)
    assert {(f.kind, f.subject) for f in facts_in(chunks[3], facts)} == {("defines", "fetch"), ("params", "fetch")}
    assert {(f.kind, f.subject) for f in facts_in(chunks[4], facts)} == {("defines", "Reader"), ("base", "Reader")}, \
        "a method of the same name is not the module's fetch"
    assert [f.subject for f in facts_in(chunks[2], facts)] == ["LIMIT"]
