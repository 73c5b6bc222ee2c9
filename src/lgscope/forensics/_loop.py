"""Loops: a node cycle repeating with the same state changes, or an assistant repeating itself."""

from __future__ import annotations

import dataclasses
import difflib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from lgscope.forensics._config import LOOP, DetectorConfig
from lgscope.forensics._pass import NamespaceFacts, Token
from lgscope.forensics._signature import assistant_texts_of, fingerprint, is_message, short
from lgscope.model import Finding

__all__ = ["longest_repeat", "loop_findings"]


@dataclass(frozen=True, slots=True)
class Repeat:
    start: int
    period: int
    repeats: int


def longest_repeat(tokens: Sequence[object], max_period: int) -> Repeat | None:
    """The block of ``tokens`` repeated most times in a row (ties: the shortest period)."""
    best: Repeat | None = None
    n = len(tokens)
    for period in range(1, max_period + 1):
        i = 0
        while i + period < n:
            if tokens[i] != tokens[i + period]:
                i += 1
                continue
            j = i
            while j + period < n and tokens[j] == tokens[j + period]:
                j += 1
            repeats = (j - i + period) // period
            if best is None or repeats > best.repeats:
                best = Repeat(i, period, repeats)
            i = j + 1
    return best


def _similar(a: str, b: str, threshold: float, counts: dict[str, Counter[str]] | None = None) -> bool:
    """``counts``: each text's character counts, remembered across calls (a text is compared with
    its predecessor and its successor)."""
    a, b = a[:2000], b[:2000]
    if a == b:
        return True
    # difflib's real_quick_ratio and quick_ratio bounds, without building a matcher (costly)
    total = len(a) + len(b)
    if 2.0 * min(len(a), len(b)) / total < threshold:
        return False
    counts = {} if counts is None else counts
    ca, cb = counts.get(a), counts.get(b)
    if ca is None:
        ca = counts[a] = Counter(a)
    if cb is None:
        cb = counts[b] = Counter(b)
    if 2.0 * (ca & cb).total() / total < threshold:
        return False
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() >= threshold


def _change_text(facts: NamespaceFacts, token: Token, counters: frozenset[str]) -> str:
    ints = {k: v for k, v in token.ints if k not in counters}
    text = facts.texts.get(token.change, "") if not token.empty else ""
    if ints:
        text = short(fingerprint(ints), 60) + (f" {text}" if text else "")
    counted = [k for k, _v in token.ints if k in counters]
    return text or (f"{', '.join(counted)} up" if counted else "{}")


def _node_cycle(facts: NamespaceFacts, config: DetectorConfig) -> Finding | None:
    seq = facts.tokens
    # Equal (nodes, change) tokens have equal nodes: without a repeating node sequence there is
    # no loop, and the state changes need not be looked at.
    nodes_rep = longest_repeat([t.nodes for t in seq], config.loop_max_period)
    if nodes_rep is None or nodes_rep.repeats < config.loop_min_repeats:
        return None
    counters = facts.counters()
    ints = [tuple((k, v) for k, v in t.ints if k not in counters) for t in seq]
    tokens = [(t.nodes, t.change, i) for t, i in zip(seq, ints, strict=True)]
    rep = longest_repeat(tokens, config.loop_max_period)
    if rep is None or rep.repeats < config.loop_min_repeats:
        return None
    block = range(rep.start, rep.start + rep.period)
    if all(seq[i].empty and not seq[i].ints for i in block):
        return None  # repeating steps that change nothing: no_progress reports those
    # steps that only count (an attempt counter going up) repeat the same work: a loop
    counted = sorted({ch for i in block for ch, _v in seq[i].ints if ch in counters})
    only_counters = all(seq[i].empty and not ints[i] for i in block)
    how = f"changing only {', '.join(counted)}" if only_counters else "with the same state changes"
    cycle = ["+".join(seq[i].nodes) for i in block]
    last = rep.start + rep.period * rep.repeats - 1
    return Finding(
        kind=LOOP,
        thread_id=facts.thread_id,
        checkpoint_ns=facts.ns,
        first_checkpoint_id=seq[rep.start].checkpoint_id,
        last_checkpoint_id=seq[last].checkpoint_id,
        severity="error",
        summary=f"{' → '.join(cycle)} repeated {rep.repeats} times {how}",
        evidence={
            "cycle": cycle,
            "period": rep.period,
            "repeats": rep.repeats,
            "steps": rep.period * rep.repeats,
            "values": [_change_text(facts, seq[i], counters) for i in block],
            "counters": counted,
        },
    )


def _repeated_messages(facts: NamespaceFacts, config: DetectorConfig) -> Finding | None:
    if facts.last_good is None:
        return None
    final = facts.last_good.values
    texts = assistant_texts_of(facts.final_messages())
    best_start, best_len, run_start = 0, 1, 0
    chars: dict[str, Counter[str]] = {}
    for k in range(1, len(texts)):
        if not _similar(texts[k - 1][1], texts[k][1], config.loop_similarity, chars):
            run_start = k
        if k - run_start + 1 > best_len:
            best_start, best_len = run_start, k - run_start + 1
    if best_len < config.loop_min_similar_messages:
        return None
    first_pos, last_pos = texts[best_start][0], texts[best_start + best_len - 1][0]
    channels = [ch for ch in final if isinstance(v := final[ch], list) and v and is_message(v[-1])]
    # the checkpoints where the first and the last repeated message appeared
    counts = [(cid, sum(lengths.get(ch, 0) for ch in channels)) for cid, lengths in facts.list_lengths]
    last_id = facts.last_good.checkpoint_id
    first = next((cid for cid, n in counts if n > first_pos), last_id)
    last = next((cid for cid, n in counts if n > last_pos), last_id)
    excerpt = short(texts[best_start][1])
    return Finding(
        kind=LOOP,
        thread_id=facts.thread_id,
        checkpoint_ns=facts.ns,
        first_checkpoint_id=first,
        last_checkpoint_id=last,
        severity="error",
        summary=f"the assistant said nearly the same thing {best_len} times in a row: {excerpt!r}",
        evidence={"similar_messages": best_len, "excerpt": excerpt, "similarity": config.loop_similarity},
    )


def loop_findings(facts: NamespaceFacts, config: DetectorConfig, now: datetime) -> list[Finding]:
    """One loop finding per namespace at most: the node cycle, with repeated messages as evidence."""
    cycle = _node_cycle(facts, config)
    messages = _repeated_messages(facts, config)
    if cycle is not None and messages is not None:
        return [dataclasses.replace(cycle, evidence={**cycle.evidence, **messages.evidence})]
    return [f for f in (cycle, messages) if f is not None]
