"""Tracing: OpenTelemetry spans for every run, node, tool call and checkpoint operation.

`instrument` traces one compiled graph, `GraphInstrumentor` every graph of the process;
`configure` sets up OTLP export that never stalls the graph; `RunObserver` is the hook for
runtime metrics.
"""

from __future__ import annotations

from lgscope.tracing._instrument import GraphInstrumentor, instrument, uninstrument
from lgscope.tracing._observers import RunObserver
from lgscope.tracing._otlp import configure, shutdown
from lgscope.tracing._saver import TracedSaver

__all__ = [
    "GraphInstrumentor",
    "RunObserver",
    "TracedSaver",
    "configure",
    "instrument",
    "shutdown",
    "uninstrument",
]
