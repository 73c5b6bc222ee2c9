"""Example LangGraph workloads modelled on real deployments, and the sample-store builder.

Blog generation with human review, a multi-day project, medicine-list and bank-transfer
approvals, a support agent (with the looping incident), an oscillating review, map-reduce with a
subgraph, and operations that fail or stall. A fake chat model stands in for every LLM.
"""

from __future__ import annotations

from lgscope.examples._build import REFERENCE_NOW, build_accuracy, build_sample
from lgscope.examples._common import Expectation

__all__ = ["REFERENCE_NOW", "Expectation", "build_accuracy", "build_sample"]
