"""`docqa convert`: a local Hugging Face checkpoint -> a docqa model directory (the hf extra)."""

from __future__ import annotations

import click

from docqa.cli.main import cli
from docqa.cli.options import echo_json, json_option, progress
from docqa.errors import ConfigError


@cli.command()
@click.argument("hf_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--segment-len", type=click.IntRange(min=1), default=2048, show_default=True,
              help="Tokens per segment: local attention stays inside one, the memory carries the rest.")
@json_option
def convert(hf_dir: str, out_dir: str, segment_len: int, as_json: bool) -> None:
    """Give a local Llama, Mistral, Qwen2 or Qwen3 checkpoint a compressive memory.

    Reads HF_DIR (config.json, safetensors weights, sharded or not, tokenizer.json; nothing is
    fetched) and writes OUT_DIR, which every command takes with --model OUT_DIR. Needs the hf
    extra: pip install 'infini-docqa[hf]'.
    """
    try:
        import transformers  # noqa: F401
    except ImportError as e:
        raise ConfigError("docqa convert needs transformers: pip install 'infini-docqa[hf]'") from e
    from docqa.model.hf import convert as convert_checkpoint

    progress(f"converting {hf_dir} (segments of {segment_len} tokens)")
    fingerprint = convert_checkpoint(hf_dir, out_dir, segment_len=segment_len)
    if as_json:
        echo_json({"model_dir": out_dir, "fingerprint": fingerprint, "segment_len": segment_len})
    else:
        click.echo(f"wrote {out_dir} (fingerprint {fingerprint[:12]}); use it with --model {out_dir}")
