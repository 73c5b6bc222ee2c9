"""Tracing: OpenTelemetry spans for every run, node, tool call and checkpoint operation.

`instrument` traces one compiled graph, `LangGraphInstrumentor` every graph of the process;
`configure` sets up export (OTLP, console, a file) that never stalls the graph; `RunObserver`
is the hook for runtime metrics.
"""

from __future__ import annotations

from lgscope.tracing._instrument import LangGraphInstrumentor, instrument, uninstrument
from lgscope.tracing._observers import RunObserver
from lgscope.tracing._otlp import configure, shutdown
from lgscope.tracing._saver import TracedSaver

__all__ = [
    "LangGraphInstrumentor",
    "RunObserver",
    "TracedSaver",
    "configure",
    "instrument",
    "shutdown",
    "uninstrument",
]
