"""Incidents as regression tests: replay a stored thread against the fixed graph, deterministically.

`RecordedChatModel` answers with a thread's recorded assistant messages in order, so a replay
needs no provider and gives the same answers; `assert_replay_fixes` replays an incident thread
against the fixed graph and fails unless the finding is gone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from lgscope.store import Store, open_store

__all__ = ["RecordedChatModel", "assert_replay_fixes", "recorded_replies"]


def _ai_message(value: Mapping[str, Any]) -> AIMessage:
    """An assistant message rebuilt from its inert stored fields (nothing in them is run)."""
    calls = [
        {"name": str(c.get("name")), "args": dict(c.get("args") or {}), "id": c.get("id")}
        for c in value.get("tool_calls") or ()
        if isinstance(c, Mapping)
    ]
    return AIMessage(
        content=value.get("content") or "",
        id=value.get("id"),
        name=value.get("name"),
        tool_calls=calls,
    )


def recorded_replies(
    store: str | Store | Any, thread_id: str, *, after: str | None = None, channel: str = "messages"
) -> list[AIMessage]:
    """The assistant messages of ``thread_id``'s final state, in order (only those added after
    checkpoint ``after``, when given)."""
    st = store if isinstance(store, Store) else open_store(store)
    try:
        last = st.thread(thread_id).last_checkpoint_id
        if last is None:
            return []
        final = st.step(thread_id, last, "").values.get(channel) or []
        before: set[Any] = set()
        if after is not None:
            from lgscope.store.resolve import resolve_checkpoint

            cid, _ns = resolve_checkpoint(st, thread_id, after, ns="")
            before = {
                m.get("id")
                for m in st.step(thread_id, cid, "").values.get(channel) or ()
                if isinstance(m, Mapping)
            }
        return [
            _ai_message(m)
            for m in final
            if isinstance(m, Mapping)
            and m.get("type") == "ai"
            and (m.get("id") is None or m.get("id") not in before)
        ]
    finally:
        if st is not store:
            st.close()


class RecordedChatModel(GenericFakeChatModel):
    """A ``langchain_core`` fake chat model that answers with a thread's recorded assistant messages,
    in order: ``RecordedChatModel.from_thread("prod.sqlite", "support-7", after=cid)``."""

    @classmethod
    def from_thread(
        cls, store: str | Store | Any, thread_id: str, *, after: str | None = None, channel: str = "messages"
    ) -> RecordedChatModel:
        return cls(messages=iter(recorded_replies(store, thread_id, after=after, channel=channel)))

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> RecordedChatModel:
        """The recorded answers already carry their tool calls: binding changes nothing."""
        return self


def assert_replay_fixes(
    store: str | Store | Any,
    thread_id: str,
    graph: Any,
    *,
    finding: str | Iterable[str],
    checkpoint: str | None = None,
    patch: Mapping[str, Any] | None = None,
    resume: Any = None,
    **options: Any,
) -> Any:
    """Replay ``thread_id`` from ``checkpoint`` against the fixed ``graph`` in a sandbox and fail
    unless the recorded thread has the ``finding`` kind(s) and the replay does not. Returns the
    `lgscope.replay.ReplayResult`."""
    __tracebackhide__ = True
    from lgscope.replay import NO_RESUME, replay
    from lgscope.testing._messages import format_failure

    kinds = {finding} if isinstance(finding, str) else set(finding)
    result = replay(
        store,
        thread_id,
        graph,
        checkpoint=checkpoint,
        patch=patch,
        resume=NO_RESUME if resume is None else resume,
        **options,
    )
    missing = kinds - {f.kind for f in result.recorded_findings}
    if missing:
        raise AssertionError(
            f"Thread {thread_id!r} has no {', '.join(sorted(missing))} finding to fix (it has: "
            f"{', '.join(sorted({f.kind for f in result.recorded_findings})) or 'none'}); check the thread and kind."
        )
    still = [f for f in result.replayed_findings if f.kind in kinds]
    if still:
        raise AssertionError(
            format_failure(
                f"The replay of {thread_id!r} in {result.sandbox} still shows {', '.join(sorted(kinds))}",
                still,
            )
        )
    return result
