"""Graphs shaped like LangGraph's tutorials, for the accuracy fixtures.

ReAct agent, the SQL agent with its query checker, the customer-support bot paused by
``interrupt_before``, a human-approval node (``interrupt()``), plan-and-execute with a retrying
executor subgraph, a supervisor, map-reduce with ``Send`` and an evaluator-optimizer loop. Only
the model (a `langchain_core` fake chat model) and the tools' back ends are faked.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, ToolMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import Command, Send, interrupt

from lgscope.examples._common import scripted_model

__all__ = [
    "approval",
    "evaluator_optimizer",
    "feedback_loop",
    "map_reduce",
    "plan_execute",
    "provider_reply",
    "react",
    "sql_agent",
    "supervisor",
    "support_bot",
]

Tools = dict[str, Callable[[dict[str, Any]], str]]


def provider_reply(
    text: str, n: int, tool: str | None = None, args: dict[str, Any] | None = None, run: str = "r"
) -> AIMessage:
    """A reply as a provider sends it: a fresh id, fresh tool-call ids, growing usage numbers."""
    calls = [{"name": tool, "args": args or {}, "id": f"call_{run}{n:04d}"}] if tool else []
    return AIMessage(
        content=text,
        id=f"run-{run}-{n:04d}",
        tool_calls=calls,
        usage_metadata={"input_tokens": 100 + 37 * n, "output_tokens": 20 + n, "total_tokens": 120 + 38 * n},
        response_metadata={
            "model_name": "fake-1",
            "created": 1_760_000_000 + n,
            "system_fingerprint": f"fp{n}",
        },
    )


class Chat(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]


def _run_tools(tools: Tools, last: Any) -> list[AnyMessage]:
    return [
        ToolMessage(tools[c["name"]](c["args"]), tool_call_id=c["id"], id=f"{c['id']}-out", name=c["name"])
        for c in getattr(last, "tool_calls", [])
    ]


def react(checkpointer: Any, replies: list[AIMessage], tools: Tools) -> Any:
    """The ReAct agent: agent ⇄ tools until the model stops calling tools."""
    model = scripted_model(replies)

    def agent(state: Chat) -> Chat:
        return {"messages": [model.invoke(state["messages"])]}

    def call_tools(state: Chat) -> Chat:
        return {"messages": _run_tools(tools, state["messages"][-1])}

    g = StateGraph(Chat)
    g.add_node("agent", agent)
    g.add_node("tools", call_tools)
    g.add_edge(START, "agent")
    g.add_conditional_edges(
        "agent", lambda s: "tools" if getattr(s["messages"][-1], "tool_calls", None) else END, ["tools", END]
    )
    g.add_edge("tools", "agent")
    return g.compile(checkpointer=checkpointer, name="react_agent")


def sql_agent(checkpointer: Any, replies: list[AIMessage], checked: list[AIMessage], db: Tools) -> Any:
    """The SQL-agent tutorial: list tables → schema → generate query → check query → run query.

    The checker rewrites the generated query and, as the tutorial does, reuses the id of the
    message it replaces (``response.id = state["messages"][-1].id``).
    """
    generate_model, check_model = scripted_model(replies), scripted_model(checked)

    def list_tables(state: Chat) -> Chat:
        return {"messages": [AIMessage("Tables: orders, customers", id="tables")]}

    def get_schema(state: Chat) -> Chat:
        return {"messages": [AIMessage("orders(id, customer_id, total, created)", id="schema")]}

    def generate_query(state: Chat) -> Chat:
        return {"messages": [generate_model.invoke(state["messages"])]}

    def check_query(state: Chat) -> Chat:
        response = check_model.invoke(state["messages"])
        response.id = state["messages"][-1].id
        return {"messages": [response]}

    def run_query(state: Chat) -> Chat:
        return {"messages": _run_tools(db, state["messages"][-1])}

    def route(state: Chat) -> str:
        return "check_query" if getattr(state["messages"][-1], "tool_calls", None) else END

    g = StateGraph(Chat)
    for name, fn in (
        ("list_tables", list_tables),
        ("get_schema", get_schema),
        ("generate_query", generate_query),
        ("check_query", check_query),
        ("run_query", run_query),
    ):
        g.add_node(name, fn)
    g.add_edge(START, "list_tables")
    g.add_edge("list_tables", "get_schema")
    g.add_edge("get_schema", "generate_query")
    g.add_conditional_edges("generate_query", route, ["check_query", END])
    g.add_edge("check_query", "run_query")
    g.add_edge("run_query", "generate_query")
    return g.compile(checkpointer=checkpointer, name="sql_agent")


def support_bot(checkpointer: Any, replies: list[AIMessage], tools: Tools, sensitive: set[str]) -> Any:
    """The customer-support tutorial: safe tools run at once; sensitive ones wait for a person
    through ``interrupt_before=["sensitive_tools"]``."""
    model = scripted_model(replies)

    def assistant(state: Chat) -> Chat:
        return {"messages": [model.invoke(state["messages"])]}

    def run(state: Chat) -> Chat:
        return {"messages": _run_tools(tools, state["messages"][-1])}

    def route(state: Chat) -> str:
        calls = getattr(state["messages"][-1], "tool_calls", None)
        if not calls:
            return END
        return "sensitive_tools" if any(c["name"] in sensitive for c in calls) else "safe_tools"

    g = StateGraph(Chat)
    g.add_node("assistant", assistant)
    g.add_node("safe_tools", run)
    g.add_node("sensitive_tools", run)
    g.add_edge(START, "assistant")
    g.add_conditional_edges("assistant", route, ["safe_tools", "sensitive_tools", END])
    g.add_edge("safe_tools", "assistant")
    g.add_edge("sensitive_tools", "assistant")
    return g.compile(checkpointer=checkpointer, interrupt_before=["sensitive_tools"], name="support_bot")


class Transfer(TypedDict, total=False):
    amount: int
    decision: str
    ledger: Annotated[list[str], operator.add]


def approval(checkpointer: Any, fail_after_answer: dict[str, int] | None = None) -> Any:
    """Human approval with ``interrupt()`` (the human-in-the-loop how-to): review asks until it
    gets approve or reject; execute has the side effect (a ledger entry)."""
    failing = fail_after_answer if fail_after_answer is not None else {}

    def review(state: Transfer) -> Transfer:
        answer = interrupt({"question": "approve this transfer?", "amount": state["amount"]})
        if failing.get("left", 0) > 0:
            failing["left"] -= 1
            raise ConnectionError("the approvals service did not answer")
        return {"decision": str(answer)}

    def route(state: Transfer) -> str:
        return {"approve": "execute", "reject": END}.get(state["decision"], "review")

    def execute(state: Transfer) -> Transfer:
        return {"ledger": [f"sent {state['amount']}"]}

    g = StateGraph(Transfer)
    g.add_node("review", review)
    g.add_node("execute", execute)
    g.add_edge(START, "review")
    g.add_conditional_edges("review", route, ["execute", "review", END])
    g.add_edge("execute", END)
    return g.compile(checkpointer=checkpointer, name="transfer_approval")


class Plan(TypedDict, total=False):
    goal: str
    plan: list[str]
    done: Annotated[list[str], operator.add]


class Attempt(TypedDict, total=False):
    task: str
    tries: int
    note: str
    results: list[str]
    outcome: str


def plan_execute(checkpointer: Any, attempt: Callable[[Attempt], Attempt], max_tries: int) -> Any:
    """Plan-and-execute: a planner, then an executor subgraph that retries each task
    (``tries`` counts attempts) until it succeeds or gives up."""

    def try_task(state: Attempt) -> Attempt:
        return attempt(state)

    def check(state: Attempt) -> str:
        return END if state.get("outcome") or state.get("tries", 0) >= max_tries else "try_task"

    sub = StateGraph(Attempt)
    sub.add_node("try_task", try_task)
    sub.add_edge(START, "try_task")
    sub.add_conditional_edges("try_task", check, ["try_task", END])
    executor = sub.compile()

    def planner(state: Plan) -> Plan:
        return {"plan": [f"{state['goal']}: step 1"]}

    def execute(state: Plan) -> Plan:
        out = executor.invoke({"task": state["plan"][0], "tries": 0})
        return {"done": [f"{state['plan'][0]}: {out.get('outcome') or 'gave up'}"]}

    g = StateGraph(Plan)
    g.add_node("planner", planner)
    g.add_node("execute", execute)
    g.add_edge(START, "planner")
    g.add_edge("planner", "execute")
    g.add_edge("execute", END)
    return g.compile(checkpointer=checkpointer, name="plan_and_execute")


class Team(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    next: str


def supervisor(checkpointer: Any, route: list[str], work: dict[str, list[str]]) -> Any:
    """A supervisor handing off to workers (``Command(goto=…)``) until it says FINISH."""
    order = iter(route)
    outputs = {name: iter(texts) for name, texts in work.items()}

    def boss(state: Team) -> Command[Any]:
        nxt = next(order)
        return Command(goto=END if nxt == "FINISH" else nxt, update={"next": nxt})

    def worker(name: str) -> Callable[[Team], Command[Any]]:
        def run(state: Team) -> Command[Any]:
            text = next(outputs[name])
            return Command(
                goto="supervisor", update={"messages": [AIMessage(text, id=f"{name}-{text[:12]}")]}
            )

        return run

    g: Any = StateGraph(Team)
    g.add_node("supervisor", boss, destinations=(*work, END))
    for name in work:
        g.add_node(name, worker(name), destinations=("supervisor",))
    g.add_edge(START, "supervisor")
    return g.compile(checkpointer=checkpointer, name="supervisor")


class Jokes(TypedDict, total=False):
    subject: str
    topics: list[str]
    jokes: Annotated[list[str], operator.add]
    best: str


class JokeTask(TypedDict):
    topic: str


def map_reduce(checkpointer: Any) -> Any:
    """Map-reduce with ``Send``: one joke per topic in parallel, then pick the best."""

    def topics(state: Jokes) -> Jokes:
        return {"topics": [f"{state['subject']} {k}" for k in ("cats", "dogs", "birds")]}

    def joke(task: JokeTask) -> Jokes:
        return {"jokes": [f"a joke about {task['topic']}"]}

    def best(state: Jokes) -> Jokes:
        return {"best": sorted(state["jokes"])[0]}

    g: Any = StateGraph(Jokes)  # the Send target takes its own input type
    g.add_node("topics", topics)
    g.add_node("joke", joke)
    g.add_node("best", best)
    g.add_edge(START, "topics")
    g.add_conditional_edges("topics", lambda s: [Send("joke", {"topic": t}) for t in s["topics"]], ["joke"])
    g.add_edge("joke", "best")
    g.add_edge("best", END)
    return g.compile(checkpointer=checkpointer, name="map_reduce")


class Draft(TypedDict, total=False):
    topic: str
    draft: str
    feedback: str
    grade: str


def evaluator_optimizer(checkpointer: Any, drafts: list[str], grades: list[tuple[str, str]]) -> Any:
    """Evaluator-optimizer: a generator writes, an evaluator grades, until the grade is good."""
    write, grade = iter(drafts), iter(grades)

    def generator(state: Draft) -> Draft:
        return {"draft": next(write)}

    def evaluator(state: Draft) -> Draft:
        verdict, feedback = next(grade)
        return {"grade": verdict, "feedback": feedback}

    g = StateGraph(Draft)
    g.add_node("generator", generator)
    g.add_node("evaluator", evaluator)
    g.add_edge(START, "generator")
    g.add_edge("generator", "evaluator")
    g.add_conditional_edges(
        "evaluator", lambda s: END if s["grade"] == "good" else "generator", ["generator", END]
    )
    return g.compile(checkpointer=checkpointer, name="evaluator_optimizer")


class Feedback(TypedDict, total=False):
    topic: str
    draft: str
    notes: Annotated[list[str], operator.add]


def feedback_loop(checkpointer: Any, drafts: list[str]) -> Any:
    """Human feedback each round (the "review and edit" how-to): write a draft, ask for feedback
    with the same question every round, rewrite until the answer is "ship"."""
    write_next = iter(drafts)

    def write(state: Feedback) -> Feedback:
        return {"draft": next(write_next)}

    def feedback(state: Feedback) -> Feedback:
        return {"notes": [str(interrupt({"question": "Any feedback on the draft?"}))]}

    g = StateGraph(Feedback)
    g.add_node("write", write)
    g.add_node("feedback", feedback)
    g.add_edge(START, "write")
    g.add_edge("write", "feedback")
    g.add_conditional_edges(
        "feedback", lambda s: END if s["notes"][-1] == "ship" else "write", ["write", END]
    )
    return g.compile(checkpointer=checkpointer, name="feedback_loop")
