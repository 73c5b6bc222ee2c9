"""Interrupt integrity: approvals that did not happen the way the person answering believes.

LangGraph does not guard an interrupt against these (users report each against it):

- **resumed twice**: two resumes of one interrupt both run, and the history forks at the
  interrupted checkpoint; nodes that ran in both continuations ran twice for one approval
  (a transfer executed twice);
- **answer ignored**: a task that failed after its interrupt was answered keeps that answer,
  and the next resume replays it — a second, different answer is stored and never used;
- **asked again and again**: one node raising the same question many times in a row, nothing
  else running in between (its answers never satisfy it, or are never seen).

It reads only what the store holds: the interrupts, the stored answers (the one given last,
under LangGraph's null task, and the ones each task ran with) and the checkpoints' parents.
"""

from __future__ import annotations

from datetime import datetime

from lgscope.forensics._config import INTERRUPT_INTEGRITY, DetectorConfig
from lgscope.forensics._pass import Ask, NamespaceFacts
from lgscope.model import Finding

__all__ = ["interrupt_findings"]


def _finding(facts: NamespaceFacts, first: str, last: str, summary: str, **evidence: object) -> Finding:
    return Finding(
        kind=INTERRUPT_INTEGRITY,
        thread_id=facts.thread_id,
        checkpoint_ns=facts.ns,
        first_checkpoint_id=first,
        last_checkpoint_id=last,
        severity="error",
        summary=summary,
        evidence=evidence,
    )


def _resumed_twice(facts: NamespaceFacts) -> list[Finding]:
    out = []
    for cid, children in facts.forks.items():
        if len(children) < 2:
            continue
        ran = [facts.branch_nodes.get((cid, i), set()) for i in range(len(children))]
        twice = sorted(n for n in set.union(*ran) if sum(n in r for r in ran) > 1 and n != "__start__")
        asked = [a for a in facts.asks if a.checkpoint_id == cid]
        node = asked[0].node if asked else None
        out.append(
            _finding(
                facts,
                cid,
                children[-1],
                f"the interrupt at {node or '?'} was resumed {len(children)} times: the history forks"
                + (f" and {', '.join(twice)} ran once per resume" if twice else ""),
                interrupt_id=asked[0].interrupt_id if asked else None,
                node=node,
                pattern="resumed_twice",
                continuations=children,
                ran_twice=twice,
            )
        )
    return out


def _ignored(facts: NamespaceFacts) -> list[Finding]:
    return [
        _finding(
            facts,
            a.checkpoint_id,
            a.checkpoint_id,
            f"the answer {a.given} to the interrupt at {a.node or '?'} was ignored: the task ran with "
            f"the stored answer {a.used}"
            + (
                " (a task failed after the first answer, and LangGraph replays the answer it stored)"
                if a.failed
                else " (it was resumed again with a different answer)"
            ),
            interrupt_id=a.interrupt_id,
            node=a.node,
            pattern="answer_ignored",
            given=a.given,
            used=a.used,
            after_failure=a.failed,
        )
        for a in facts.answers
    ]


def _asked_again(facts: NamespaceFacts, config: DetectorConfig) -> list[Finding]:
    asks = facts.asks
    if len(asks) < config.interrupt_max_asks:
        return []
    position = {t.checkpoint_id: i for i, t in enumerate(facts.tokens)}

    def again(a: Ask, b: Ask) -> bool:
        # asked again: the same node, the same question, and nothing but that node ran in between
        # (a feedback loop that asks "any feedback?" after new work each round is not this)
        if (a.node, a.question) != (b.node, b.question):
            return False
        i, j = position.get(a.checkpoint_id, -1), position.get(b.checkpoint_id, -1)
        return 0 <= i < j and all(n == a.node for t in facts.tokens[i + 1 : j + 1] for n in t.nodes)

    best: tuple[int, int] | None = None
    start = 0
    for k in range(1, len(asks) + 1):
        if k < len(asks) and again(asks[k - 1], asks[k]):
            continue
        if k - start >= config.interrupt_max_asks and (best is None or k - start > best[1] - best[0]):
            best = (start, k)
        start = k
    if best is None:
        return []
    run = asks[best[0] : best[1]]
    return [
        _finding(
            facts,
            run[0].checkpoint_id,
            run[-1].checkpoint_id,
            f"{run[0].node or '?'} asked the same question {len(run)} times in a row: {run[0].text}",
            interrupt_id=run[-1].interrupt_id,
            node=run[0].node,
            pattern="asked_again",
            times=len(run),
            question=run[0].text,
        )
    ]


def interrupt_findings(facts: NamespaceFacts, config: DetectorConfig, now: datetime) -> list[Finding]:
    """Interrupts resumed twice, answers ignored, and questions asked again and again."""
    if not facts.asks:
        return []
    return [*_resumed_twice(facts), *_ignored(facts), *_asked_again(facts, config)]
