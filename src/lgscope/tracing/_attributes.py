"""Span names and attribute keys: OpenTelemetry's conventions where they exist, ``langgraph.*``
otherwise.

The GenAI conventions are still in development: the run's root is ``invoke_agent {graph}`` and
tool calls are ``execute_tool {tool}``. No convention for a graph's nodes is merged yet: node
spans carry ``langgraph.*`` keys, and the proposed ``gen_ai.node.*`` ones too when
``OTEL_SEMCONV_STABILITY_OPT_IN`` names ``gen_ai_latest_experimental``. Checkpoint operations
are storage operations: they follow the database conventions (``db.*``).
"""

from __future__ import annotations

import os

GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id"
GEN_AI_AGENT_NAME = "gen_ai.agent.name"
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ID = "gen_ai.tool.call.id"
GEN_AI_TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT = "gen_ai.tool.call.result"
GEN_AI_NODE_NAME = "gen_ai.node.name"
GEN_AI_NODE_ID = "gen_ai.node.id"

DB_SYSTEM_NAME = "db.system.name"
DB_OPERATION_NAME = "db.operation.name"
DB_COLLECTION_NAME = "db.collection.name"

EXCEPTION_TYPE = "exception.type"
EXCEPTION_MESSAGE = "exception.message"
EXCEPTION_STACKTRACE = "exception.stacktrace"

GRAPH_NAME = "langgraph.graph.name"
RESUMED = "langgraph.resumed"
RESUMED_INTERRUPT_IDS = "langgraph.resume.interrupt_ids"
INTERRUPTED = "langgraph.interrupted"
NODE = "langgraph.node"
STEP = "langgraph.step"
ATTEMPT = "langgraph.node.attempt"
TASK_ID = "langgraph.task.id"
TASK_PATH = "langgraph.task.path"
TRIGGERS = "langgraph.triggers"
CHECKPOINT_NS = "langgraph.checkpoint_ns"
CHECKPOINT_ID = "langgraph.checkpoint.id"
CHECKPOINT_BYTES = "langgraph.checkpoint.bytes"
CHECKPOINT_WRITES = "langgraph.checkpoint.writes"
THREAD_ID = "langgraph.thread.id"
INTERRUPT_IDS = "langgraph.interrupt.ids"
INTERRUPT_STATUS = "langgraph.interrupt.status"
INPUT = "langgraph.input"
OUTPUT = "langgraph.output"

OP_AGENT = "invoke_agent"
OP_NODE = "invoke_node"
OP_TOOL = "execute_tool"

INTERRUPT_EVENT = "langgraph.interrupt"
ATTEMPT_FAILED_EVENT = "langgraph.attempt.failed"
METADATA_KEY = "lgscope.trace"
"""Checkpoint metadata key holding the run's trace context, so a resume can link to it. The
traced saver writes it and hides it from what it reads back."""

OPT_IN = "OTEL_SEMCONV_STABILITY_OPT_IN"
GEN_AI_LATEST = "gen_ai_latest_experimental"


def gen_ai_latest() -> bool:
    """Whether ``OTEL_SEMCONV_STABILITY_OPT_IN`` asks for the latest (experimental) GenAI names."""
    return GEN_AI_LATEST in {part.strip() for part in os.environ.get(OPT_IN, "").split(",")}
