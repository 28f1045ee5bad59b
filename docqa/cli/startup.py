"""The garbage collector during a model command's imports, when the `docqa` program owns the process.

Why (issue 14, item 4; docs/bench/startup.md): importing torch and docqa's model code leaves
some 200,000 tracked objects that live until the process exits. The cyclic collector walks them
again and again while they arrive (three full passes in `docqa ask`, one more than a bare
`import torch`, because click, sqlite-utils and numpy came first) and again at shutdown (0.4 s
of CPU after the atexit hooks, 0.1 s with them frozen): ~0.5 s of a ~1.7 s `docqa ask`, to free
a few hundred objects. So the commands that load a model do their imports with the collector paused, then
`gc.freeze()` what exists at that point (modules, classes, functions: what lives as long as the
process does) so that no later pass walks it, and turn the collector back on. Everything made
afterwards, the model included, is collected as before. The price: the imports' own cyclic
garbage (~7,000 objects, ~0.7 MB) and any frozen object that later joins a garbage cycle stay
until exit, where frozen objects are left to the operating system (Python does not promise
finalizers at exit); peak memory of `docqa ask` is unchanged (266 MB). Measured against freezing
without the pause, and a gen-0 threshold raised during the imports: both cut less or nothing.

Only when the CLI runs as a program: `cli()` (the console script's entry) marks the process as
docqa's. In-process callers (click's CliRunner, a user's code calling `cli.main`) and
`import docqa` keep the interpreter's settings untouched, and so does a process whose
collector was already off.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_program = False  # True while `cli()` runs as the process's program (DocqaGroup.__call__)


@contextmanager
def running_as_program() -> Iterator[None]:
    global _program
    _program = True
    try:
        yield
    finally:
        _program = False


@contextmanager
def model_imports() -> Iterator[None]:
    """Run the body (a command's imports of torch and docqa's model code) with the collector paused,
    then freeze what exists; a failing import leaves nothing frozen. The collector is on after."""
    if not _program or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
        gc.freeze()  # before gc.enable(): no collection can run between the two
    finally:
        gc.enable()
