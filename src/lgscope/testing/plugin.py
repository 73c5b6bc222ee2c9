"""The lgscope pytest plugin, loaded through the ``pytest11`` entry point.

* ``@pytest.mark.lgscope(no_loops=True, max_steps=50, …)`` records every graph run of the
  test and checks each one when the test body ends; a problem fails the test. ``max_steps``
  also stops a run at that many steps while it runs (it is the run's ``recursion_limit``), and
  the failure then shows what the run was doing.
* A graph compiled without a checkpointer gets one for the test that keeps the first 4 and the
  last 24 checkpoints of each run, so a runaway run's memory does not grow with its length.
* ``lgscope_recorder`` is the fixture behind it, for checks of your own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

__all__ = ["MarkerOptions", "lgscope_recorder"]


@dataclass(frozen=True, kw_only=True)
class MarkerOptions:
    """What ``@pytest.mark.lgscope(...)`` checks; every option is keyword-only."""

    no_loops: bool = True
    """Fail on a node cycle repeating past the loop thresholds."""
    no_oscillation: bool = True
    """Fail on a state field flipping between a few values."""
    no_stuck_interrupts: bool = False
    """Fail on an interrupt older than ``older_than`` when the test ends."""
    older_than: str = "24h"
    max_steps: int | None = None
    """Fail unless every run finished within this many supersteps."""
    evolves: str | None = None
    """A state field that must change during each run."""
    thresholds: Mapping[str, Any] = field(default_factory=dict)
    """Detector thresholds (``loop_min_repeats=…``) over lgscope's defaults."""

    @classmethod
    def from_marker(cls, mark: pytest.Mark) -> MarkerOptions:
        """Validate a marker; unknown options, bad types and positional arguments are usage errors."""
        if mark.args:
            raise pytest.UsageError("@pytest.mark.lgscope takes keyword arguments only, e.g. no_loops=True.")
        known = {f.name for f in dataclasses.fields(cls)} - {"thresholds"}
        options = {k: v for k, v in mark.kwargs.items() if k in known}
        thresholds = {k: v for k, v in mark.kwargs.items() if k not in known}
        if thresholds:
            from lgscope._exceptions import UsageError
            from lgscope.testing._asserts import detector_config

            try:
                detector_config((), thresholds)
            except UsageError as exc:
                raise pytest.UsageError(
                    f"@pytest.mark.lgscope: {exc} Options are: {', '.join(sorted(known))}."
                ) from None
        for name in ("no_loops", "no_oscillation", "no_stuck_interrupts"):
            if name in options and not isinstance(options[name], bool):
                raise pytest.UsageError(f"@pytest.mark.lgscope: {name} must be True or False.")
        steps = options.get("max_steps")
        if steps is not None and (not isinstance(steps, int) or isinstance(steps, bool) or steps < 1):
            raise pytest.UsageError("@pytest.mark.lgscope: max_steps must be a positive whole number.")
        return cls(**options, thresholds=thresholds)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "lgscope(no_loops=True, no_oscillation=True, no_stuck_interrupts=False, max_steps=None, "
        "evolves=None, **thresholds): check every LangGraph run of the test with lgscope's detectors.",
    )


@pytest.fixture
def lgscope_recorder() -> Generator[Any, None, None]:
    """Records every LangGraph run in the test; ``.histories()`` reads them back."""
    from lgscope.testing._recorder import RunRecorder

    recorder = RunRecorder()
    recorder.start()
    try:
        yield recorder
    finally:
        recorder.stop()


def _check(options: MarkerOptions, recorder: Any, *, stopped: bool = False) -> str | None:
    """Every check of the marker over every recorded run (one run decoded at a time): the
    failure message, or None. ``stopped``: a run hit its step limit, so say what each unfinished
    run was doing, whatever the marker asked."""
    from lgscope.testing import _asserts

    failures: list[str] = []
    unfinished: list[str] = []
    checks: list[tuple[bool, Any, dict[str, Any]]] = [
        (options.no_loops, _asserts.assert_no_loops, dict(options.thresholds)),
        (options.no_oscillation, _asserts.assert_no_oscillation, dict(options.thresholds)),
        (
            options.no_stuck_interrupts,
            _asserts.assert_no_stuck_interrupts,
            {**options.thresholds, "older_than": options.older_than},
        ),
        (
            options.max_steps is not None and not stopped,
            _asserts.assert_terminates_within,
            {"steps": options.max_steps},
        ),
        (options.evolves is not None, _asserts.assert_state_evolves, {"field": options.evolves}),
    ]
    for history in recorder.iter_histories():
        if stopped:
            unfinished.extend(_asserts.termination_problems(history, options.max_steps))
        for enabled, check, kwargs in checks:
            if not enabled:
                continue
            try:
                check(history, **kwargs)
            except AssertionError as exc:
                failures.append(str(exc))
    if unfinished:
        failures.insert(0, "\n".join(unfinished))
    return "\n".join(failures) if failures else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    mark = item.get_closest_marker("lgscope")
    if mark is None:
        return (yield)
    try:
        options = MarkerOptions.from_marker(mark)
    except pytest.UsageError as exc:
        pytest.fail(str(exc), pytrace=False)
    from langgraph.errors import GraphRecursionError

    from lgscope.testing._recorder import RunRecorder

    funcargs = getattr(item, "funcargs", {})
    given = funcargs.get("lgscope_recorder")
    owned = not isinstance(given, RunRecorder)
    recorder: RunRecorder = given if isinstance(given, RunRecorder) else RunRecorder()
    recorder.max_steps = options.max_steps
    if owned:
        recorder.start()
    try:
        stopped: GraphRecursionError | None = None
        try:
            result = yield
        except GraphRecursionError as exc:
            stopped = exc
        if stopped is not None:
            # the run was stopped at its limit: what it was doing is the failure, not the traceback
            failure = _check(options, recorder, stopped=True)
            if failure is None:
                raise stopped
            limit = (
                f"max_steps={options.max_steps}" if options.max_steps is not None else "its recursion limit"
            )
            pytest.fail(
                f"lgscope: the run was stopped at {limit} ({type(stopped).__name__}):\n{failure}",
                pytrace=False,
            )
        failure = _check(options, recorder)
        if failure is not None:
            pytest.fail(failure, pytrace=False)
        return result
    finally:
        if owned:
            recorder.stop()
