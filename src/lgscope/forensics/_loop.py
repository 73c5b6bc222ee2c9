"""Loops: a node cycle repeating with the same state changes, or an assistant repeating itself."""

from __future__ import annotations

import dataclasses
import difflib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from lgscope.forensics._config import LOOP, DetectorConfig
from lgscope.forensics._signature import (
    assistant_texts,
    counter_fields,
    delta,
    fingerprint,
    key,
    messages_of,
    root_loop_steps,
    short,
)
from lgscope.model import Finding, Step, ThreadHistory

__all__ = ["detect_loops", "longest_repeat"]


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


def _similar(a: str, b: str, threshold: float) -> bool:
    a, b = a[:2000], b[:2000]
    if a == b:
        return True
    # difflib's real_quick_ratio and quick_ratio bounds, without building a matcher (costly)
    total = len(a) + len(b)
    if 2.0 * min(len(a), len(b)) / total < threshold:
        return False
    if 2.0 * (Counter(a) & Counter(b)).total() / total < threshold:
        return False
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() >= threshold


def _node_cycle(
    history: ThreadHistory, ns: str, steps: Sequence[Step], config: DetectorConfig
) -> Finding | None:
    seq = root_loop_steps(steps)
    # Equal (nodes, change) tokens have equal nodes: without a repeating node sequence there is
    # no loop, and the state changes need not be looked at.
    nodes_rep = longest_repeat([s.nodes for s in seq], config.loop_max_period)
    if nodes_rep is None or nodes_rep.repeats < config.loop_min_repeats:
        return None
    by_id = {s.checkpoint_id: s for s in steps}
    counters = counter_fields(seq)
    deltas = [delta(s, by_id.get(s.parent_id or ""), counters) for s in seq]
    tokens = [(s.nodes, key(d)) for s, d in zip(seq, deltas, strict=True)]
    rep = longest_repeat(tokens, config.loop_max_period)
    if rep is None or rep.repeats < config.loop_min_repeats:
        return None
    block = range(rep.start, rep.start + rep.period)
    if not any(deltas[i] for i in block):
        return None  # repeating steps that change nothing: no_progress reports those
    cycle = ["+".join(seq[i].nodes) for i in block]
    last = rep.start + rep.period * rep.repeats - 1
    changes = [short(fingerprint(deltas[i]), 160) for i in block]
    return Finding(
        kind=LOOP,
        thread_id=history.thread.thread_id,
        checkpoint_ns=ns,
        first_checkpoint_id=seq[rep.start].checkpoint_id,
        last_checkpoint_id=seq[last].checkpoint_id,
        severity="error",
        summary=f"{' → '.join(cycle)} repeated {rep.repeats} times with the same state changes",
        evidence={
            "cycle": cycle,
            "period": rep.period,
            "repeats": rep.repeats,
            "steps": rep.period * rep.repeats,
            "values": changes,
        },
    )


def _repeated_messages(
    history: ThreadHistory, ns: str, steps: Sequence[Step], config: DetectorConfig
) -> Finding | None:
    live = [s for s in steps if not s.corrupt]
    if not live:
        return None
    texts = assistant_texts(live[-1].values)
    best_start, best_len, run_start = 0, 1, 0
    for k in range(1, len(texts)):
        if not _similar(texts[k - 1][1], texts[k][1], config.loop_similarity):
            run_start = k
        if k - run_start + 1 > best_len:
            best_start, best_len = run_start, k - run_start + 1
    if best_len < config.loop_min_similar_messages:
        return None
    first_pos, last_pos = texts[best_start][0], texts[best_start + best_len - 1][0]
    counts = [len(messages_of(st.values)) for st in live]
    # the checkpoints where the first and the last repeated message appeared
    first = next(st for st, n in zip(live, counts, strict=True) if n > first_pos)
    last = next(st for st, n in zip(live, counts, strict=True) if n > last_pos)
    excerpt = short(texts[best_start][1])
    return Finding(
        kind=LOOP,
        thread_id=history.thread.thread_id,
        checkpoint_ns=ns,
        first_checkpoint_id=first.checkpoint_id,
        last_checkpoint_id=last.checkpoint_id,
        severity="error",
        summary=f"the assistant said nearly the same thing {best_len} times in a row: {excerpt!r}",
        evidence={"similar_messages": best_len, "excerpt": excerpt, "similarity": config.loop_similarity},
    )


def detect_loops(history: ThreadHistory, config: DetectorConfig, now: datetime) -> list[Finding]:
    """One loop finding per namespace at most: the node cycle, with repeated messages as evidence."""
    out: list[Finding] = []
    for ns, steps in history.steps.items():
        cycle = _node_cycle(history, ns, steps, config)
        messages = _repeated_messages(history, ns, steps, config)
        if cycle is not None and messages is not None:
            out.append(dataclasses.replace(cycle, evidence={**cycle.evidence, **messages.evidence}))
        elif cycle is not None:
            out.append(cycle)
        elif messages is not None:
            out.append(messages)
    return out
