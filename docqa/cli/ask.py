"""`docqa ask` and `docqa chat`: answer from a corpus's saved memory."""

from __future__ import annotations

import dataclasses

import click

from docqa.cli.corpora import finish_command
from docqa.cli.main import cli
from docqa.cli.options import progress
from docqa.cli.options import (db_option, device_option, dtype_option, echo_json, json_option, model_option,
                                threads_option)
from docqa.cli.sources import attribution_json, echo_sources, sources_option
from docqa.cli.startup import model_imports
from docqa.prompt import DEFAULT_MAX_TOKENS

generation_options = [
    click.option("--max-tokens", type=int, default=DEFAULT_MAX_TOKENS, show_default=True,
                 help="Stop the answer after this many tokens."),
    click.option("--temperature", type=float, default=0.0, show_default=True, help="0 = greedy."),
    click.option("--seed", type=int, default=None, help="Seed for sampling."),
    click.option("--contrast", type=click.FloatRange(min=0.0), default=0.0, show_default=True,
                 help="Decode from what the memory adds over the model without it: (1 + C) x its log-probs "
                      "- C x the knocked-out model's, among the tokens it finds plausible. 0 = plain."),
    click.option("--snapshot", type=int, default=None, help="Answer from this snapshot id (default: current)."),
]


def with_generation_options(f):
    for opt in reversed(generation_options):
        f = opt(f)
    return f


@cli.command()
@click.argument("corpus")
@click.argument("question")
@click.option("--template", default="ask", show_default=True, help="Template name in prompts/ or a .txt path.")
@with_generation_options
@model_option
@device_option
@dtype_option
@threads_option
@db_option
@json_option
@sources_option
def ask(corpus, question, template, max_tokens, temperature, seed, contrast, snapshot, model_path, device, dtype,
        db_path, as_json, threads, show_sources) -> None:
    """Answer QUESTION from CORPUS's memory, streaming the answer to stdout."""
    if not question.strip():
        raise click.UsageError(f'the question is empty: ask something, e.g. docqa ask {corpus} "What is the pass key?"')
    with model_imports():  # torch and the model code, the collector paused: docqa.cli.startup
        from docqa.api import Corpus
        from docqa.precision import precision
        from docqa.threads import set_threads

    set_threads(threads)
    click.get_current_context().with_resource(precision(device, dtype))  # for the rest of the command
    c = Corpus(corpus, db=db_path, model=model_path, device=device)
    info = c.info()
    if info.incomplete:
        progress(f"warning: corpus {corpus!r} is incomplete (its last ingest did not finish), so answers may miss "
                 f"sources; resume it with: {finish_command(info, db_path, model_path)}")
    stream, snap_id = c.stream(question, template=template, max_tokens=max_tokens, temperature=temperature,
                               snapshot=snapshot, seed=seed, contrast=contrast)
    for piece in stream:
        if not as_json:
            click.echo(piece, nl=False)
    if not as_json:
        click.echo()
    found = c.attribute(stream.text, prompt=stream.prompt, snapshot=snap_id) if show_sources else None
    if as_json:
        extra = {"attribution": attribution_json(found)} if found else {}
        echo_json({**dataclasses.asdict(c.answer_of(stream, snap_id, found)), **extra})
    elif found:
        echo_sources(found)


@cli.command()
@click.argument("corpus")
@click.option("-c", "--continue", "continue_", is_flag=True, help="Continue the corpus's latest conversation.")
@click.option("--conversation", type=int, default=None, help="Continue this conversation id.")
@click.option("-m", "--message", "messages", multiple=True, help="Send this message (repeatable) instead of prompting.")
@click.option("--template", default="chat", show_default=True,
              help="Template name in prompts/ or a .txt path; it needs a {history} field.")
@with_generation_options
@model_option
@device_option
@dtype_option
@threads_option
@db_option
@json_option
@sources_option
def chat(corpus, continue_, conversation, messages, template, max_tokens, temperature, seed, contrast, snapshot,
         model_path, device, dtype, db_path, as_json, threads, show_sources) -> None:
    """Chat with CORPUS. Turns are kept in the store; the corpus memory never changes."""
    with model_imports():  # torch and the model code, the collector paused: docqa.cli.startup
        from docqa.chat import Chat
        from docqa.precision import precision
        from docqa.threads import set_threads

    set_threads(threads)
    click.get_current_context().with_resource(precision(device, dtype))  # for the rest of the command

    session = Chat.open(corpus, db=db_path, model=model_path, device=device, conversation=conversation,
                        continue_latest=continue_, snapshot=snapshot)
    if not as_json:
        how = "" if messages else "; empty line or Ctrl-D to stop"
        click.echo(f"conversation {session.conversation_id} with {corpus} (snapshot {session.snapshot_id}){how}",
                   err=True)
    results = []
    inputs = iter(messages) if messages else _prompt_lines()
    for message in inputs:
        stream = session.send(message, template=template, max_tokens=max_tokens, temperature=temperature, seed=seed,
                              contrast=contrast)
        for piece in stream:
            if not as_json:
                click.echo(piece, nl=False)
        answer = session.finish(stream)
        if not as_json:
            click.echo()
        if show_sources:
            found = session.corpus.attribute(stream.text, prompt=stream.prompt, snapshot=session.snapshot_id)
            answer = dataclasses.replace(answer, sources=found.sources)
            if not as_json:
                echo_sources(found)
        results.append(dataclasses.asdict(answer))
    if as_json:
        echo_json({"conversation": session.conversation_id, "turns": results})


def _prompt_lines():
    while True:
        try:
            line = click.prompt("you", default="", show_default=False, err=True)
        except click.Abort:
            return
        if not line.strip():
            return
        yield line
