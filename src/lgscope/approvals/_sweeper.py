"""The stale-approval sweeper: auto-reject or escalate interrupts nobody answered."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from lgscope._exceptions import LgscopeError, LockUnavailable, UsageError
from lgscope.approvals._audit import AuditLog, Decision
from lgscope.approvals._lock import ThreadLocks, _sqlite_path, locks_for
from lgscope.approvals._memory import EscalationMemory, memory_for
from lgscope.approvals._resume import Pending, read_pending, stored_answer
from lgscope.metrics import SweeperMetrics
from lgscope.model import Interrupt, Step, Thread, ThreadHistory
from lgscope.store import Store, open_store
from lgscope.store._open import sqlite_file
from lgscope.store.decode import foreign_types, unsafe_types

__all__ = ["DEFAULT_REJECTION", "Candidate", "SweepReport", "Sweeper"]

Policy = Literal["reject", "escalate"]

DEFAULT_REJECTION: Mapping[str, Any] = {
    "approved": False,
    "reason": "approval timeout exceeded",
    "auto_rejected": True,
}
"""What ``reject`` resumes an interrupt with, unless told otherwise."""


_PAUSE_NOTE = "a static pause: escalated, never rejected (moving it runs the paused node)"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A pending interrupt past its deadline."""

    interrupt: Interrupt
    age: timedelta
    deadline: datetime
    """``expires_at`` from the interrupt's value when it has one, else raised-at + threshold."""
    graph: Any = None
    """The graph (of those given) whose thread it is, which resumes it; None when none was given."""
    skipped: str = ""
    """Why it is left alone: its thread belongs to none of the graphs given (else empty)."""
    pause: bool = False
    """A static pause (``interrupt_before``/``interrupt_after``): no interrupt is stored, so
    `interrupt` stands for it — id ``pause:<checkpoint id>``, node the paused node. Escalated
    under either policy: the only way to move a static pause is to run the paused node, which is
    approving it, so it is never rejected."""


@dataclass(slots=True)
class SweepReport:
    """What one sweep decided."""

    decisions: list[Decision] = field(default_factory=list)
    pending: int = 0
    """Interrupts pending in the store."""
    stale: int = 0
    """Of those, how many are past their deadline (and at the nodes asked for)."""
    paused: int = 0
    """Static pauses past the threshold (not interrupts: counted apart from ``pending``)."""
    recovered: int = 0
    """How many of ``decisions`` settle what an earlier, killed sweep left open (not counted in
    ``pending``: they were no longer pending when this sweep looked)."""

    @property
    def failed(self) -> int:
        return sum(1 for d in self.decisions if d.outcome == "failed")

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for d in self.decisions:
            out[d.outcome] = out.get(d.outcome, 0) + 1
        return out


def _deadline(intr: Interrupt, older_than: timedelta) -> datetime:
    value = intr.value
    if isinstance(value, Mapping) and isinstance(value.get("expires_at"), str):
        try:
            when = datetime.fromisoformat(value["expires_at"])
            return when if when.tzinfo else when.replace(tzinfo=UTC)
        except ValueError:
            pass
    return intr.created_at + older_than


def _check_same_store(saver: Any, store: str) -> None:
    """Refuse a graph whose checkpointer is on another store than the one swept: every interrupt
    found would look resolved through the graph, and nothing would be swept, silently."""
    module = type(saver).__module__
    if module.startswith("langgraph.checkpoint.sqlite"):
        db = _sqlite_path(saver.conn)
        target = sqlite_file(store)
        if db is not None and target.exists() and db.exists() and not os.path.samefile(db, target):
            raise UsageError(
                f"The graph's checkpointer writes to {db}, but the store swept is {target}; "
                "point --graph at a graph compiled with the checkpointer of STORE."
            )
    elif module.startswith("langgraph.checkpoint.postgres") and store.startswith(
        ("postgresql://", "postgres://")
    ):
        from psycopg.conninfo import conninfo_to_dict

        source = saver.conn
        if callable(getattr(source, "connection", None)):  # a pool
            with source.connection() as conn:
                info = conn.info
        else:
            info = source.info
        wanted = conninfo_to_dict(store)
        # host spellings differ (localhost, 127.0.0.1, a DNS name): compare what cannot be respelled
        theirs = (str(info.port), info.dbname)
        ours = (str(wanted.get("port") or info.port), wanted.get("dbname") or info.dbname)
        if theirs != ours:
            raise UsageError(
                f"The graph's checkpointer writes to database {theirs[1]!r} (port {theirs[0]}), but the store "
                f"swept is database {ours[1]!r} (port {ours[0]}); point --graph at a graph compiled with the "
                "checkpointer of STORE."
            )


def unsafe_to_load(store: Store, thread_id: str, allowed: frozenset[str] = frozenset()) -> str | None:
    """Why LangGraph must not load the thread's latest state, in a sentence, or None.

    Reading pending interrupts through the graph (``get_state``) and resuming (``invoke``) run the
    stored bytes through the graph's own serializer, which by default imports and calls what they
    name. lgscope's inert decoder looks first: pickle, serializer types it cannot look into, and
    types outside `lgscope.store.decode.SAFE_TYPES` (unless ``allowed`` names them) refuse the
    thread, as does a value lgscope cannot decode.
    """
    try:
        raws = store._raw_latest(thread_id)  # what get_state and a resume load
    except LgscopeError as exc:
        return f"lgscope could not read the thread to check it first ({exc}); not touched"
    names: set[str] = set()
    for checkpoints in raws.values():
        if not checkpoints:
            continue
        latest = checkpoints[-1]
        if latest.corrupt:
            names.add("a value lgscope cannot decode")
        names |= foreign_types(latest.checkpoint)
        # channel values kept apart from the checkpoint: as stored (type, bytes), or decoded
        for type_, data in (getattr(latest, "blobs", None) or {}).values():
            names |= unsafe_types(type_, data)
        names |= foreign_types(getattr(latest, "values", None))
        for w in latest.writes:
            names |= foreign_types(w.decoded) if w.is_decoded else unsafe_types(w.type, w.value)
    names -= allowed
    if not names:
        return None
    return (
        f"its stored state holds {', '.join(sorted(names))}, which LangGraph's serializer would rebuild by "
        "importing and calling code; not touched (inspect it with lgscope show; if you trust it, allow it "
        "by name with --allow-type)"
    )


def _graph_name(graph: Any) -> str:
    return str(graph.get_name())


def not_its_thread(graph: Any, intr: Interrupt, latest: Step | None) -> str:
    """Why ``intr``'s thread is not one ``graph`` can resume (empty if it is): the node that raised
    it (or, in a subgraph, the node the subgraph runs under), the nodes the thread runs next and
    the channels of its latest checkpoint must all be the graph's."""
    name = _graph_name(graph)
    nodes, channels = set(graph.nodes), set(graph.channels)
    if intr.checkpoint_ns:
        parent = intr.checkpoint_ns.split("|", 1)[0].split(":", 1)[0]
        if parent not in nodes:
            return f"its subgraph runs under node {parent!r}, which graph {name!r} does not have"
    elif intr.node is not None and intr.node not in nodes:
        return f"raised at node {intr.node!r}, which graph {name!r} does not have"
    if latest is not None:
        foreign = sorted(set(latest.versions) - channels)
        if foreign:
            return f"channels {', '.join(foreign[:3])} are not in graph {name!r}"
        strange = sorted(set(latest.next) - nodes)
        if strange:
            return f"it runs {', '.join(strange[:3])} next, which graph {name!r} does not have"
    return ""


class Sweeper:
    """Finds interrupts pending past a deadline and rejects (resumes) or escalates them.

    Static pauses (``interrupt_before``/``interrupt_after``: tasks pending, nothing stored, no
    error) past the threshold are escalated under either policy unless ``pauses=False``: moving
    one means running the paused node, which approves it, so none is ever rejected.

    ``graph`` is the user's compiled graph with a checkpointer on the same store (needed to
    reject; escalation only records); ``graphs`` adds more, for a store several graphs share.
    When graphs are given, a thread none of them owns (its interrupt's node, next nodes or
    channels are not the graph's) is skipped and reported, never resumed. ``store`` is where to
    look for stale interrupts (default: the graph's checkpointer). Escalations are remembered
    beside the locks (`lgscope.approvals._memory`), so each interrupt is escalated once, with or
    without an audit log. Nothing is done unless ``apply=True``. Every resume takes the
    per-thread lock and re-reads the pending interrupts under it, so concurrent sweepers and
    `lgscope.approvals.resume` callers act on each interrupt exactly once.
    """

    def __init__(
        self,
        graph: Any = None,
        *,
        graphs: Sequence[Any] = (),
        store: Any = None,
        older_than: timedelta = timedelta(hours=24),
        policy: Policy = "reject",
        payload: Any = None,
        nodes: Sequence[str] = (),
        apply: bool = False,
        audit: AuditLog | None = None,
        locks: ThreadLocks | None = None,
        on_escalate: Callable[[Candidate], None] | None = None,
        metrics: SweeperMetrics | None = None,
        actor: str = "lgscope-sweeper",
        lock_timeout: float = 30.0,
        allow_types: Sequence[str] = (),
        pauses: bool = True,
    ) -> None:
        if policy not in ("reject", "escalate"):
            raise UsageError(f"Unknown policy {policy!r}; use reject or escalate.")
        self.graphs: tuple[Any, ...] = tuple(g for g in (graph, *graphs) if g is not None)
        if policy == "reject" and apply and not self.graphs:
            raise UsageError(
                "Rejecting resumes the thread, so the sweeper needs the graph: pass --graph module:attr."
            )
        for g in self.graphs:
            if getattr(g, "checkpointer", None) in (None, True, False):
                raise UsageError(
                    f"The graph {_graph_name(g)!r} has no checkpointer, so it cannot resume stored threads; "
                    "compile it with one."
                )
        self.graph = self.graphs[0] if self.graphs else None
        """The first graph given (None if none)."""
        self.store = store if store is not None else getattr(self.graph, "checkpointer", None)
        if self.store is None:
            raise UsageError("The sweeper needs a store (or a graph with a checkpointer) to look in.")
        if isinstance(store, str | os.PathLike):
            for g in self.graphs:
                _check_same_store(g.checkpointer, os.fspath(store))
        self.older_than = older_than
        self.policy: Policy = policy
        self.payload = dict(DEFAULT_REJECTION) if payload is None else payload
        self.nodes = frozenset(nodes)
        self.apply = apply
        self.audit = audit
        self.locks = locks or locks_for(self.graph.checkpointer if self.graph is not None else self.store)
        self.memory: EscalationMemory = memory_for(self.locks)
        self.on_escalate = on_escalate
        self.metrics = metrics
        self.actor = actor
        self.lock_timeout = lock_timeout
        self.allow_types = frozenset(allow_types)
        """Type names (see `unsafe_to_load`) the user trusts LangGraph to rebuild."""
        self.pauses = pauses
        """Whether static pauses (`Candidate.pause`) past the threshold are escalated too."""

    def candidates(
        self, now: datetime | None = None, progress: Callable[[int, int], None] | None = None
    ) -> tuple[list[Candidate], int]:
        """Stale interrupts (oldest first) and how many interrupts are pending in all. With graphs
        given, each names the graph that resumes it, or why it is skipped. ``progress(done, total)``
        is told as the threads are read."""
        now = now or datetime.now(UTC)
        with self._opened() as store:
            threads = []
            total = len(store.index()) if progress is not None else 0
            for thread in store.threads():
                threads.append(thread)
                if progress is not None:
                    progress(len(threads), total)
            pending = [i for t in threads for i in t.pending_interrupts]
            if self.metrics is not None:
                self.metrics.observe_pending(i.age(now).total_seconds() for i in pending)
            stale = [
                Candidate(i, i.age(now), _deadline(i, self.older_than))
                for i in pending
                if (not self.nodes or i.node in self.nodes) and now >= _deadline(i, self.older_than)
            ]
            if self.pauses:
                stale += self._paused(store, threads, now)
            if self.graphs:
                last = {t.thread_id: t.last_checkpoint_id for t in threads}
                stale = self._owners(store, stale, last)
        return sorted(stale, key=lambda c: -c.age.total_seconds()), len(pending)

    def _paused(self, store: Store, threads: Sequence[Thread], now: datetime) -> list[Candidate]:
        """Static pauses past the threshold: what forensics' ``stuck_run`` says is likely a pause
        (tasks pending that never started, no interrupt, no error, not a recursion-limit stop)."""
        from lgscope.forensics import STUCK_RUN, DetectorConfig, detect

        config = DetectorConfig(detectors=frozenset({STUCK_RUN}), stuck_after=self.older_than)
        out = []
        for t in threads:
            if t.status != "running" or t.updated_at is None or now - t.updated_at < self.older_than:
                continue
            # the detector reads the root namespace's steps alone, and of their writes only
            # interrupts, resumes and errors: read no more than that
            history = store.load(t.thread_id, control_only=True)
            root = ThreadHistory(history.thread, {"": history.steps.get("", ())})
            for f in detect(root, config, now=now):
                waiting = list(f.evidence.get("waiting", ()))
                if f.evidence.get("likely") != "paused" or not waiting:
                    continue
                if self.nodes and not self.nodes & set(waiting):
                    continue
                intr = Interrupt(
                    id=f"pause:{f.last_checkpoint_id}",
                    value={"paused_before": waiting},
                    thread_id=t.thread_id,
                    checkpoint_ns="",
                    checkpoint_id=f.last_checkpoint_id,
                    task_id="",
                    node=waiting[0],
                    created_at=t.updated_at,
                )
                out.append(Candidate(intr, now - t.updated_at, t.updated_at + self.older_than, pause=True))
        return out

    def _owners(
        self, store: Store, stale: list[Candidate], last: Mapping[str, str | None]
    ) -> list[Candidate]:
        latest: dict[str, Step | None] = {}
        out = []
        for c in stale:
            tid = c.interrupt.thread_id
            if tid not in latest:
                checkpoint_id = last.get(tid)
                latest[tid] = store.step_at(tid, checkpoint_id) if checkpoint_id else None
            reasons = []
            for g in self.graphs:
                reason = not_its_thread(g, c.interrupt, latest[tid])
                if not reason:
                    out.append(dataclasses.replace(c, graph=g))
                    break
                reasons.append(reason)
            else:
                out.append(dataclasses.replace(c, skipped="not this sweep's graph: " + "; ".join(reasons)))
        return out

    def run(
        self,
        now: datetime | None = None,
        stop: threading.Event | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> SweepReport:
        """One sweep; ``stop`` is checked between threads. Settles a killed sweep's resumes first.
        ``progress(done, total)`` is told as the store's threads are read."""
        started = time.monotonic()
        now = now or datetime.now(UTC)
        recovered = self._recover(stop)
        stale, pending = self.candidates(now, progress)
        pauses = sum(1 for c in stale if c.pause)
        report = SweepReport(
            decisions=recovered,
            pending=pending,
            stale=len(stale) - pauses,
            paused=pauses,
            recovered=len(recovered),
        )
        by_thread: dict[str, list[Candidate]] = {}
        for c in stale:
            if c.skipped:  # another graph's thread: reported, never audited, never resumed
                report.decisions.append(self._decision(c, "skipped", now, c.skipped))
                continue
            by_thread.setdefault(c.interrupt.thread_id, []).append(c)
        # First pass: skip threads someone else holds right now (another sweeper, a person) and
        # come back to them, so that several sweepers share the work instead of queueing in step.
        busy: list[tuple[str, list[Candidate]]] = []
        for thread_id, group in by_thread.items():
            if stop is not None and stop.is_set():
                return self._finish(report, started)
            decisions = self._thread(thread_id, group, now, wait=False)
            if decisions is None:
                busy.append((thread_id, group))
            else:
                report.decisions.extend(decisions)
        for thread_id, group in busy:
            if stop is not None and stop.is_set():
                break
            report.decisions.extend(self._thread(thread_id, group, now, wait=True) or [])
        return self._finish(report, started)

    def _finish(self, report: SweepReport, started: float) -> SweepReport:
        if self.metrics is not None:
            self.metrics.last_run.set(time.time())
            self.metrics.duration.set(time.monotonic() - started)
        return report

    def _decision(
        self, c: Candidate, outcome: str, now: datetime, detail: str = "", answer: Any = None
    ) -> Decision:
        return Decision(
            time=datetime.now(UTC).isoformat(),  # when it was decided (``now`` may be a what-if)
            thread_id=c.interrupt.thread_id,
            checkpoint_ns=c.interrupt.checkpoint_ns,
            interrupt_id=c.interrupt.id,
            node=c.interrupt.node,
            age_seconds=round(c.age.total_seconds(), 3),
            policy=self.policy,
            outcome=outcome,
            actor=self.actor,
            detail=detail,
            answer=answer,
        )

    def _thread(
        self, thread_id: str, group: list[Candidate], now: datetime, *, wait: bool
    ) -> list[Decision] | None:
        """Decide on one thread's stale interrupts; None if it is busy and ``wait`` is false."""
        pause = group[0].pause
        if not self.apply:
            done = self.memory.escalated(thread_id) if self.policy == "escalate" or pause else set()
            would = "would_escalate" if pause else f"would_{self.policy}"
            note = _PAUSE_NOTE if pause and self.policy == "reject" else ""
            return self._emit(
                [
                    self._decision(c, "already_escalated" if c.interrupt.id in done else would, now, note)
                    for c in group
                ]
            )
        # checked before the lock, so that sweepers do not queue behind a read of the whole state
        # (a pause is never resumed: its state is never loaded through the graph)
        refusal = None if pause else self._unsafe(thread_id)
        if refusal is not None:
            return self._emit([self._decision(c, "failed", now, refusal) for c in group], "unsafe")
        try:
            with self.locks.hold(thread_id, self.lock_timeout if wait else 0.0):
                # decisions are recorded before the lock is released: whoever takes it next (a
                # recovering sweeper too) sees how this one ended
                return (
                    self._escalate_pause(thread_id, group, now) if pause else self._act(thread_id, group, now)
                )
        except LockUnavailable as exc:
            if not wait:
                return None
            return self._emit([self._decision(c, "failed", now, str(exc)) for c in group], "lock")

    @contextlib.contextmanager
    def _opened(self) -> Iterator[Store]:
        """The swept store: the one given, or opened here and closed after."""
        if isinstance(self.store, Store):
            yield self.store
            return
        with open_store(self.store) as store:
            yield store

    def _escalate_pause(self, thread_id: str, group: list[Candidate], now: datetime) -> list[Decision]:
        """Escalate a static pause still where it was (re-read under the lock), whatever the policy."""
        with self._opened() as store:
            last = store.thread(thread_id).last_checkpoint_id
        live = [c for c in group if c.interrupt.checkpoint_id == last]
        out = [self._decision(c, "already_resolved", now) for c in group if c not in live]
        return self._emit(out) + self._escalate(
            thread_id, live, now, _PAUSE_NOTE if self.policy == "reject" else ""
        )

    def _escalate(
        self, thread_id: str, live: list[Candidate], now: datetime, note: str = ""
    ) -> list[Decision]:
        done = self.memory.escalated(thread_id)
        if self.audit is not None:
            done |= self.audit.escalated()
        out = []
        for c in live:
            if c.interrupt.id in done:
                # escalated by an earlier sweep: once is enough (reported, not recorded again)
                out.append(self._decision(c, "already_escalated", now))
                continue
            try:
                if self.on_escalate is not None:
                    self.on_escalate(c)
                self.memory.remember(thread_id, c.interrupt.id)
                decision = self._decision(c, "escalated", now, note)
            except Exception as exc:
                decision = self._decision(
                    c, "failed", now, f"escalation hook raised {type(exc).__name__}: {exc}"
                )
            out.extend(self._emit([decision], "hook"))
        return out

    def _still_pending(self, thread_id: str, graph: Any) -> dict[str, Pending]:
        config = {"configurable": {"thread_id": thread_id}}
        if graph is not None:
            return read_pending(graph, config)
        with self._opened() as store:
            return {i.id: Pending(i.id, i.value) for i in store.thread(thread_id).pending_interrupts}

    def _unsafe(self, thread_id: str) -> str | None:
        """`unsafe_to_load` for a thread the graph is about to read (None without a graph)."""
        if self.graph is None:
            return None
        with self._opened() as store:
            return unsafe_to_load(store, thread_id, self.allow_types)

    def _act(self, thread_id: str, group: list[Candidate], now: datetime) -> list[Decision]:
        try:
            still = self._still_pending(thread_id, group[0].graph)
        except Exception as exc:  # the user's graph or store failed: report it, keep sweeping
            return self._emit(
                [
                    self._decision(
                        c, "failed", now, f"re-reading the thread failed: {type(exc).__name__}: {exc}"
                    )
                    for c in group
                ],
                "read",
            )
        out: list[Decision] = []
        live: list[Candidate] = []
        for c in group:
            found = still.get(c.interrupt.id)
            if found is None:
                out.append(self._decision(c, "already_resolved", now))
            elif self.policy == "reject" and found.answered and found.answer != self.payload:
                # Someone answered it and the node then failed: LangGraph would replay their answer,
                # not our rejection, so rejecting now would only record a lie.
                out.append(
                    self._decision(
                        c,
                        "already_resolved",
                        now,
                        f"answered with {found.answer!r}, then the node failed; resuming replays that answer",
                    )
                )
            else:
                live.append(c)
        self._emit(out)
        if not live:
            return out
        if self.policy == "escalate":
            return out + self._escalate(thread_id, live, now)
        from langgraph.types import Command

        if self.audit is not None:  # the intent, fsync'd before acting: a kill from here on is settled later
            for c in live:
                self.audit.append(self._decision(c, "resuming", now, answer=self.payload))
        try:
            live[0].graph.invoke(
                Command(resume={c.interrupt.id: self.payload for c in live}),
                {"configurable": {"thread_id": thread_id}},
            )
        except Exception as exc:  # the user's node raised: leave the thread pending, report, go on
            failed = [
                self._decision(c, "failed", now, f"resume raised {type(exc).__name__}: {exc}") for c in live
            ]
            return out + self._emit(failed, "resume")
        return out + self._emit([self._decision(c, "rejected", now, answer=self.payload) for c in live])

    def _recover(self, stop: threading.Event | None) -> list[Decision]:
        """Settle the ``resuming`` intents a killed sweep left open in the audit log."""
        if not self.apply or self.audit is None or self.graph is None:
            return []
        by_thread: dict[str, list[Mapping[str, Any]]] = {}
        for (thread_id, _), entry in self.audit.open_intents().items():
            by_thread.setdefault(thread_id, []).append(entry)
        out: list[Decision] = []
        for thread_id, entries in by_thread.items():
            if stop is not None and stop.is_set():
                break
            graph = self._graph_of(entries[0])
            if graph is None:
                continue  # another sweep's graph resumed it: that sweep settles it
            if self._unsafe(thread_id) is not None:
                continue  # the intent stays open; the sweep reports the thread as refused
            try:
                with self.locks.hold(thread_id, self.lock_timeout):
                    still_open = self.audit.open_intents()  # another sweeper may have settled them
                    pending = read_pending(graph, {"configurable": {"thread_id": thread_id}})
                    settled = [
                        self._settle(e, pending, graph)
                        for e in entries
                        if (thread_id, str(e["interrupt_id"])) in still_open
                    ]
                    if any(d.outcome == "rejected" for d in settled):
                        settled = self._finish_run(thread_id, settled, graph)
                    out.extend(self._emit(settled))
            except Exception:  # locked or unreadable: the intent stays open for the next run
                continue
        return out

    def _finish_run(self, thread_id: str, settled: list[Decision], graph: Any) -> list[Decision]:
        """A killed sweep's resume ran, but the process died inside a later node: the thread waits
        with that node pending and no interrupt, and no sweep would look at it again. Run it on."""
        config = {"configurable": {"thread_id": thread_id}}
        snapshot = graph.get_state(config)
        # an interrupt with its answer stored is one LangGraph replays on the next run; only one
        # with none waits for a person
        waiting = [
            i
            for task in snapshot.tasks
            for i in task.interrupts
            if not stored_answer(graph, thread_id, str(i.id))[0]
        ]
        if not snapshot.next or waiting:
            return settled
        stopped = ", ".join(snapshot.next)
        try:
            graph.invoke(None, config)
            note, failed = f"; its run had stopped before {stopped}: finished it", False
        except Exception as exc:  # the user's node raised: the thread is left unfinished, say so
            note, failed = (
                f"; its run had stopped before {stopped} and finishing it raised {type(exc).__name__}: {exc}; "
                "the thread is unfinished",
                True,
            )
        return [
            dataclasses.replace(d, detail=d.detail + note, outcome="failed" if failed else d.outcome)
            if d.outcome == "rejected"
            else d
            for d in settled
        ]

    def _graph_of(self, intent: Mapping[str, Any]) -> Any:
        """The graph (of those given) that owns the node an audit intent names; None if none does."""
        ns = str(intent.get("checkpoint_ns") or "")
        node = ns.split("|", 1)[0].split(":", 1)[0] if ns else intent.get("node")
        if node is None:
            return self.graph
        return next((g for g in self.graphs if node in g.nodes), None)

    def _settle(self, intent: Mapping[str, Any], pending: Mapping[str, Pending], graph: Any) -> Decision:
        iid, thread_id = str(intent["interrupt_id"]), str(intent["thread_id"])
        who = f"{intent.get('actor')} at {intent.get('time')}"
        # The answer first: a sweep killed inside the resumed node leaves its answer stored while
        # LangGraph still lists the interrupt (the node never finished); the run is finished below.
        found, answer = stored_answer(graph, thread_id, iid)
        if found and answer == intent.get("answer"):
            outcome, detail = "rejected", f"resumed by {who}, which was stopped before recording it"
        elif iid in pending and not found:
            outcome, detail, answer = (
                "interrupted",
                f"the resume by {who} never finished; still pending",
                None,
            )
        else:
            outcome, detail = (
                "already_resolved",
                f"the resume by {who} never finished; answered by someone else",
            )
        return Decision(
            time=datetime.now(UTC).isoformat(),
            thread_id=thread_id,
            checkpoint_ns=str(intent.get("checkpoint_ns", "")),
            interrupt_id=iid,
            node=intent.get("node"),
            age_seconds=float(intent.get("age_seconds", 0.0)),
            policy=str(intent.get("policy", self.policy)),
            outcome=outcome,
            actor=self.actor,
            detail=detail,
            answer=answer if outcome == "rejected" else None,
        )

    def _emit(self, decisions: list[Decision], reason: str = "") -> list[Decision]:
        """Record decisions (audit line, metrics) as they are made; ``reason`` labels failures."""
        for decision in decisions:
            if self.audit is not None and not decision.outcome.startswith("would_"):
                self.audit.append(decision)
            if self.metrics is None:
                continue
            self.metrics.decisions.labels(decision.policy, decision.outcome).inc()
            if decision.outcome == "failed":
                self.metrics.failures.labels(reason or "resume").inc()
            elif not decision.outcome.startswith("would_") and decision.outcome != "interrupted":
                self.metrics.wait.labels(decision.policy).observe(decision.age_seconds)
        return decisions
