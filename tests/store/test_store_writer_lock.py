"""The per-corpus writer lock: one writer at a time, released however the holder ends."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from docqa.errors import CorpusLocked
from docqa.store import Store

HOLDER = """
import sys, time
from docqa.store import Store
store = Store({db!r})
with store.writer_lock({corpus!r}):
    print("held", flush=True)
    time.sleep({hold})
print("released", flush=True)
"""


def hold_in_process(db_path, corpus="notes", hold=60.0):
    """A real second process holding the lock; returns once it holds it."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER.format(db=str(db_path), corpus=corpus, hold=hold)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "held\n", proc.stderr.read()
    return proc


def test_a_second_writer_is_told_who_holds_the_lock(db_path, store):
    holder = hold_in_process(db_path)
    try:
        with pytest.raises(CorpusLocked) as e:
            with store.writer_lock("notes"):
                pass
        message = str(e.value)
        assert f"pid {holder.pid}" in message and "since " in message and "--wait" in message
        assert "\n" not in message
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_of_a_killed_process_does_not_block(db_path, store):
    holder = hold_in_process(db_path)
    os.kill(holder.pid, signal.SIGKILL)
    assert holder.wait() == -signal.SIGKILL
    with store.writer_lock("notes"):
        pass


def test_wait_takes_the_lock_when_the_holder_ends(db_path, store):
    holder = hold_in_process(db_path, hold=1.0)
    waited_for = []
    t0 = time.monotonic()
    with store.writer_lock("notes", wait=True, on_wait=waited_for.append):
        assert holder.poll() is not None or holder.stdout.readline() == "released\n"
    assert [h.pid for h in waited_for] == [holder.pid]
    assert time.monotonic() - t0 > 0.3
    holder.wait()


def test_threads_of_one_process_exclude_each_other(db_path):
    inside, overlaps = [], []

    def writer(i):
        with Store(db_path) as s, s.writer_lock("notes", wait=True):
            inside.append(i)
            if len(inside) > 1:
                overlaps.append(list(inside))
            time.sleep(0.05)
            inside.remove(i)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == []


def test_locks_are_per_corpus_and_released_on_exit(db_path, store):
    with store.writer_lock("notes"):
        with Store(db_path) as other:
            with other.writer_lock("other"):
                pass
            with pytest.raises(CorpusLocked):
                with other.writer_lock("notes"):
                    pass
    with store.writer_lock("notes"):
        pass


def test_removing_a_corpus_waits_for_no_one_and_refuses_while_it_is_written(db_path, store, corpus):
    holder = hold_in_process(db_path, corpus=corpus)
    try:
        with pytest.raises(CorpusLocked, match=f"pid {holder.pid}, since .*: remove it once that has ended$"):
            store.delete_corpus(corpus)
        assert store.get_corpus(corpus).name == corpus
    finally:
        holder.kill()
        holder.wait()
    store.delete_corpus(corpus)
    assert store.list_corpora() == []
