"""`RecordedChatModel` and `assert_replay_fixes`: an incident thread as a deterministic regression test."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from lgscope import open_store
from lgscope.examples import support
from lgscope.testing import RecordedChatModel, assert_replay_fixes, recorded_replies

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "replay"))
import replay_graphs  # noqa: E402


def second(store: Path, thread_id: str) -> str:
    with open_store(store) as st:
        return [s.checkpoint_id for s in st.steps(thread_id, control_only=True)][1]


def test_the_recorded_model_answers_with_the_threads_assistant_messages_in_order(sample_store: Path) -> None:
    model = RecordedChatModel.from_thread(str(sample_store), "support-loop-gave-up")
    answers = [model.invoke([HumanMessage("anything")]) for _ in range(6)]
    assert all(isinstance(a, AIMessage) for a in answers)
    assert [a.id for a in answers] == [f"support-loop-gave-up-ai-{n}" for n in range(1, 6)] + [
        "support-loop-gave-up-ai-final"
    ]
    assert answers[0].tool_calls == [
        {
            "name": "search_kb",
            "args": {"q": "warranty"},
            "id": "support-loop-gave-up-call-1",
            "type": "tool_call",
        }
    ]
    assert answers[-1].content == "Sorry, I could not find our warranty terms."
    assert model.bind_tools([]) is model
    with pytest.raises(StopIteration):  # nothing beyond what was recorded
        model.invoke([HumanMessage("more")])


def test_recorded_replies_after_a_checkpoint_skip_what_it_already_held(sample_store: Path) -> None:
    with open_store(sample_store) as st:
        cid = [s.checkpoint_id for s in st.steps("support-1")][3]  # after the first answer
    assert [m.id for m in recorded_replies(str(sample_store), "support-1", after=cid)] == ["support-1-ai-2"]


def test_assert_replay_fixes_passes_for_the_fixed_graph(sample_store: Path) -> None:
    result = assert_replay_fixes(
        str(sample_store),
        "support-loop-gave-up",
        replay_graphs.support_fixed,
        finding="loop",
        checkpoint=second(sample_store, "support-loop-gave-up"),
    )
    assert result.fixed == ("loop",)
    Path(result.sandbox).unlink()


def test_assert_replay_fixes_fails_when_the_finding_remains(sample_store: Path, tmp_path: Path) -> None:
    cid = second(sample_store, "support-loop-gave-up")
    unfixed = support.build(None, "x", recorded_replies(str(sample_store), "support-loop-gave-up", after=cid))
    with pytest.raises(AssertionError) as info:
        assert_replay_fixes(
            str(sample_store),
            "support-loop-gave-up",
            unfixed,
            finding="loop",
            checkpoint=cid,
            into=str(tmp_path / "s"),
        )
    message = str(info.value)
    assert message.startswith(
        f"The replay of 'support-loop-gave-up' in {tmp_path / 's'} still shows loop (1 finding):"
    )
    assert "\n- [loop] thread 'support-loop-gave-up'" in message


def test_assert_replay_fixes_says_when_there_is_nothing_to_fix(sample_store: Path, tmp_path: Path) -> None:
    with pytest.raises(
        AssertionError, match=r"Thread 'support-1' has no loop finding to fix \(it has: none\)"
    ):
        assert_replay_fixes(
            str(sample_store),
            "support-1",
            replay_graphs.support_fixed,
            finding="loop",
            into=str(tmp_path / "s"),
        )
