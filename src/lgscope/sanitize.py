"""Text from a store, made safe to show: one module every output (CLI, TUI, report) uses.

Anything read from a checkpoint store or an export file was written by someone else: a thread
id, a node name, an error message, a state key. Shown raw, it can drive the terminal (``ESC ]0;``
retitles it, ``ESC [2J`` erases it, bidi overrides reorder what is read) or, printed through Rich
or Textual, be parsed as markup (``[/INST]`` raises, ``[link=…]`` makes a clickable link).

- `safe_text` escapes every control character (C0 but tab and, if asked, newline; DEL; C1;
  the bidi overrides and isolates) as a visible ``\\x1b`` / ``\\u202e``, so what was stored is
  still readable but can do nothing. Markup is handled by printing with markup off (the CLI's
  consoles, Rich `Text` and Textual `Content` objects), never by hoping data has no brackets.
- `safe_markdown` is `safe_text` for Markdown: HTML and link syntax in data stay literal text.
- `safe_filename` and `unused_path` make a file name from stored text (a thread id) that stays
  in its directory (``../../x`` and ``/etc/x`` cannot leave it) and never replaces a file.
- `safe_json` is ``json.dumps`` for a terminal: the same escapes, written as JSON ``\\u`` escapes
  so the output stays valid JSON, and NaN / ±Infinity (which are not JSON) as strings.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

__all__ = ["json_safe", "safe_filename", "safe_json", "safe_markdown", "safe_text", "unused_path"]

_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[\x00-\x08\x0a-\x1f\x7f-\x9f{_BIDI}]")
_UNSAFE_KEEP_NEWLINES = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]")
# what json.dumps leaves raw (it escapes C0 itself): DEL, C1 and the bidi controls
_UNSAFE_IN_JSON = re.compile(f"[\x7f-\x9f{_BIDI}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def safe_text(value: object, *, keep_newlines: bool = False) -> str:
    """``str(value)`` with every control character shown as an escape (``\\x1b``), inert on a
    terminal. Newlines are escaped too unless ``keep_newlines`` (a one-line field must stay one
    line: a thread id with a newline would forge a row)."""
    text = value if isinstance(value, str) else str(value)
    return (_UNSAFE_KEEP_NEWLINES if keep_newlines else _UNSAFE).sub(_escape, text)


_MARKDOWN_ACTIVE = re.compile(r"([\\`*_\[\]|!~#()])")


def safe_markdown(value: object) -> str:
    """`safe_text` that Markdown shows literally: no raw HTML (``<`` and ``&`` as entities), no
    links, images, emphasis, code or table cells (their punctuation backslash-escaped)."""
    text = safe_text(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_ACTIVE.sub(r"\\\1", text)


def json_safe(value: Any) -> Any:
    """``value`` with NaN and ±Infinity floats replaced by the strings ``"NaN"``, ``"Infinity"``
    and ``"-Infinity"`` (JSON has no such numbers); other values are returned as they are."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def safe_json(value: Any, *, indent: int | None = 2) -> str:
    """Valid JSON of ``value`` (non-JSON objects as ``str``), with nothing in it that a terminal
    would act on."""
    try:
        text = json.dumps(value, indent=indent, ensure_ascii=False, default=str, allow_nan=False)
    except ValueError:  # NaN or Infinity somewhere: rare, so only then walk the value
        text = json.dumps(json_safe(value), indent=indent, ensure_ascii=False, default=str, allow_nan=False)
    return _UNSAFE_IN_JSON.sub(_json_escape, text)


_NOT_IN_NAMES = re.compile(r"[^A-Za-z0-9._-]+")
_RUNS = re.compile(r"[_.]*_[_.]*")


def safe_filename(text: str, *, max_length: int = 100) -> str:
    """A file name from ``text`` (a thread id) that names a file in the current directory: runs of
    anything but letters, digits, ``.``, ``_`` and ``-`` (and of dots) become one ``_``; no
    leading or trailing ``.``, ``_``, ``-`` (so never ``..``, never hidden); at most
    ``max_length`` characters; ``thread`` if nothing is left."""
    name = _RUNS.sub("_", _NOT_IN_NAMES.sub("_", text).replace("..", "_")).strip("._-")[:max_length]
    return name.strip("._-") or "thread"


def unused_path(directory: Path, stem: str, suffix: str) -> Path:
    """``directory / (stem + suffix)``, or with ``-2``, ``-3`` … after the stem: the first name
    that is not taken (a file, a directory or a dangling link), so nothing is replaced."""
    candidate, n = directory / f"{stem}{suffix}", 2
    while candidate.exists() or candidate.is_symlink():
        candidate, n = directory / f"{stem}-{n}{suffix}", n + 1
    return candidate
