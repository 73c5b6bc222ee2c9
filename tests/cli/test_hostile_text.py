"""Issue 25, items 3-4: markup and terminal escapes in stored text reach no output raw."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner
from tests.hostile import EVIL_ID, EVIL_NODE, EVIL_TEXT, READERS, assert_inert, plant_hostile_text

from lgscope.cli import main
from lgscope.sanitize import safe_json, safe_markdown, safe_text

SHOWN_ID = safe_text(EVIL_ID)


def test_safe_text_escapes_every_control_and_keeps_the_rest() -> None:
    assert safe_text("a\x1b]0;t\x07b\u202ec\nd\te\x7f\x9b") == "a\\x1b]0;t\\x07b\\u202ec\\x0ad\te\\x7f\\x9b"
    assert safe_text("x\ny", keep_newlines=True) == "x\ny"
    assert safe_text("[/INST] ok ✓") == "[/INST] ok ✓"
    assert json.loads(safe_json({"k": "\x1b\x9b\u202e", "n": float("nan"), "i": [float("-inf")]})) == {
        "k": "\x1b\x9b\u202e",
        "n": "NaN",
        "i": ["-Infinity"],
    }
    assert safe_markdown("<b>[x](https://e)</b>") == "&lt;b&gt;\\[x\\]\\(https://e\\)&lt;/b&gt;"


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


def test_every_reader_prints_hostile_ids_names_errors_and_keys_inertly(
    sample_copy: Path, tmp_path: Path
) -> None:
    cid = plant_hostile_text(sample_copy)
    store = str(sample_copy)
    fields = {
        "store": store,
        "thread": EVIL_ID,
        "checkpoint": cid,
        "first": cid,
        "out": str(tmp_path / "o.jsonl"),
        "state": str(tmp_path / "scan.state"),
        "fork": str(tmp_path / "fork.sqlite"),
    }
    outputs = {}
    for template in READERS:
        args = [a.format(**fields) for a in template]
        code, out = _run(*args)
        if template[0] == "fork" and code == 2:  # a planted row no saver takes as it is: refused
            assert out.startswith("Error: ") and out.count("\n") == 1, out
            assert not (tmp_path / "fork.sqlite").exists()
        else:
            assert code in (0, 1), (args, out[-2000:])
        assert_inert(out)
        outputs[" ".join(template[:1] + template[2:])] = out
    # the id is shown, escaped, with its brackets as text (Rich markup is off)
    assert SHOWN_ID in outputs["threads"]
    assert "[/b][link=https://evil.example]x[/link]" in outputs["threads"]
    assert safe_text(EVIL_NODE) in outputs["show --thread {thread}"]
    shown = outputs["show --thread {thread} --checkpoint {checkpoint}"]
    assert safe_text(EVIL_TEXT) in shown and "error" in shown
    assert "[/INST]" in outputs["scan"] and "Traceback" not in outputs["scan"]
    assert SHOWN_ID in outputs["sweep --older-than 1s"]
    # JSON stays valid and round-trips the stored text exactly
    step = json.loads(outputs["show --thread {thread} --checkpoint {checkpoint} --format json"])
    assert step["values"][EVIL_NODE] == {EVIL_TEXT: EVIL_TEXT}
    listed = json.loads(outputs["threads --format json"])
    assert EVIL_ID in {t["thread_id"] for t in listed}


def test_reports_copy_no_html_or_links_from_data(sample_copy: Path) -> None:
    plant_hostile_text(sample_copy)
    for fmt in ("md", "html"):
        code, out = _run("report", str(sample_copy), "--format", fmt, "--worst", "50")
        assert code == 0
        assert_inert(out)
        assert "<script>" not in out and "&lt;script&gt;" in out
    code, md = _run("report", str(sample_copy), "--format", "md", "--worst", "50")
    assert "](http" not in md and "\\[link=https://evil.example\\]" in md
    assert re.search(r"(?<!\\)\[link=", md) is None


def test_spans_with_hostile_node_names(tmp_path: Path) -> None:
    span = {
        "name": f"invoke_node {EVIL_NODE}",
        "startTimeUnixNano": "1000000000",
        "endTimeUnixNano": "2000000000",
        "attributes": [{"key": "langgraph.node", "value": {"stringValue": EVIL_NODE}}],
    }
    doc = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
    path = tmp_path / "spans.json"
    path.write_text(json.dumps(doc))
    code, out = _run("spans", str(path))
    assert code == 0, out
    assert_inert(out)
    assert safe_text(EVIL_NODE) in out


def test_an_error_line_naming_a_hostile_thread_is_inert(sample_store: Path) -> None:
    result = CliRunner().invoke(main, ["show", str(sample_store), "--thread", EVIL_ID])
    assert result.exit_code == 2
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1
    assert_inert(result.output)
