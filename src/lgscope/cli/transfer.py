"""``export`` and ``import``: a thread's whole history as a portable file, and back."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import click

from lgscope._exceptions import UsageError
from lgscope.cli._common import STORE, handle_errors, output_file, shown_store
from lgscope.sanitize import safe_filename, safe_text, unused_path
from lgscope.store import open_store
from lgscope.store.export import Redaction, export_thread, import_thread

__all__ = ["COMMANDS", "parse_redaction"]


def parse_redaction(keys: Iterable[str], pattern: str | None) -> Redaction:
    """``--redact KEY,…`` and ``--redact-re REGEX`` as a `Redaction`."""
    names = frozenset(k.strip() for item in keys for k in item.split(",") if k.strip())
    try:
        compiled = re.compile(pattern) if pattern else None
    except re.error as exc:
        raise UsageError(f"--redact-re {pattern!r} is not a valid regular expression ({exc}).") from None
    return Redaction(names, compiled)


@click.command("export")
@STORE
@click.option("--thread", "thread_id", required=True, metavar="ID", help="The thread to export.")
@click.option("--ns", default=None, metavar="NS", help="Only this namespace ('' is the root graph).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write [default: ID.lgscope.jsonl in the current directory, never replacing a file].",
)
@click.option(
    "--redact", "redact_keys", multiple=True, metavar="KEY,…", help="Replace values under these keys."
)
@click.option("--redact-re", metavar="REGEX", help="Replace text matching this regular expression.")
@handle_errors
def export_cmd(
    store: str,
    thread_id: str,
    ns: str | None,
    output: Path | None,
    redact_keys: tuple[str, ...],
    redact_re: str | None,
) -> None:
    """Export a thread's whole history (every namespace, pending writes) to a versioned file.

    The file holds decoded values for people and the original bytes for a faithful import;
    it appears only when complete. Redacted values import as plain data.

    \b
    Example:
      lgscope export checkpoints.sqlite --thread support-7 -o support-7.jsonl --redact email,phone
    """
    redaction = parse_redaction(redact_keys, redact_re)
    if output is not None:
        output_file(output)
    with open_store(store) as st:
        st.thread(thread_id)
        # a thread id names the file only through safe_filename: it stays here and replaces nothing
        target = output or unused_path(Path(), safe_filename(thread_id), ".lgscope.jsonl")
        count = export_thread(st, thread_id, target, ns=ns, redaction=redaction)
    click.echo(f"Exported {count} checkpoints of thread {safe_text(thread_id)} to {safe_text(target)}")


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("target")
@click.option("--thread", "thread_id", metavar="NEW_ID", help="Import under this thread id.")
@click.option("--force", is_flag=True, help="Replace the thread if the target already has it.")
@click.option(
    "--merge",
    is_flag=True,
    help="Add the file's checkpoints to the thread the target already has (undoes a prune from its archive).",
)
@click.option(
    "--allow-type",
    "allow_types",
    multiple=True,
    metavar="NAME",
    help="Import stored values of this type (module.Name, or pickle), which an app's LangGraph would "
    "rebuild by calling code; refused by default (repeatable).",
)
@handle_errors
def import_cmd(
    file: Path, target: str, thread_id: str | None, force: bool, merge: bool, allow_types: tuple[str, ...]
) -> None:
    """Import an export FILE into TARGET (a SQLite path or postgresql:// URL) through the official
    saver, in one transaction: all of it or nothing.

    \b
    Example:
      lgscope import support-7.jsonl replay.sqlite --thread support-7-replay
      lgscope import pruned/support-7.lgscope.jsonl checkpoints.sqlite --merge
    """
    if force and merge:
        raise UsageError("--force replaces the thread and --merge adds to it; give one of them.")
    tid, count = import_thread(
        file, target, thread_id=thread_id, overwrite=force, allow_types=allow_types, merge=merge
    )
    click.echo(f"Imported {count} checkpoints as thread {safe_text(tid)} into {shown_store(target)}")


COMMANDS: list[click.Command] = [export_cmd, import_cmd]
