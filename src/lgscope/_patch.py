"""Wrapping a dependency's function so that the wrapper can be taken out again, in any order.

Tracing (`lgscope.tracing.LangGraphInstrumentor`) and the test recorder
(`lgscope.testing.RunRecorder`) both wrap ``Pregel.stream``; either may stop first, and other
instrumentations may wrap the same functions over or under ours. Restoring "the original" by
value would reinstall a stale wrapper; instead each `Patch` is a ``wrapt`` proxy that, when
removed, is cut out of the chain of wrappers wherever it sits. A wrapper that holds ours in a
way that cannot be rewired (not a ``wrapt`` proxy) gets a pass-through instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import wrapt

__all__ = ["Patch"]

_PROXIES = (getattr(wrapt, "BaseObjectProxy", wrapt.ObjectProxy), wrapt.ObjectProxy)
"""wrapt's proxies: those whose ``__wrapped__`` can be rewired (FunctionWrapper derives from the
first in wrapt 2, from ObjectProxy before)."""

Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


class Patch:
    """``owner.name`` wrapped by ``wrapper`` (wrapt's signature) while applied."""

    def __init__(self, owner: Any, name: str, wrapper: Wrapper) -> None:
        self.owner, self.name, self.wrapper = owner, name, wrapper
        self.proxy: Any = None
        self._live: list[bool] = [False]

    @property
    def applied(self) -> bool:
        return self.proxy is not None

    def apply(self) -> None:
        if self.proxy is not None:
            return
        # a class's own entry (the function, not a bound method); a module's attribute
        current = vars(self.owner)[self.name]
        live, wrapper = [True], self.wrapper

        def call(
            wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> Any:
            if live[0]:
                return wrapper(wrapped, instance, args, kwargs)
            return wrapped(*args, **kwargs)

        self._live = live
        self.proxy = wrapt.FunctionWrapper(current, call)
        setattr(self.owner, self.name, self.proxy)

    def remove(self) -> None:
        proxy, self.proxy = self.proxy, None
        if proxy is None:
            return
        self._live[0] = False
        below = proxy.__wrapped__
        current = vars(self.owner).get(self.name)
        if current is proxy:
            setattr(self.owner, self.name, below)
            return
        outer = current
        while isinstance(outer, _PROXIES):
            inner = outer.__wrapped__
            if inner is proxy:
                outer.__wrapped__ = below  # cut ours out from under a later wrapper
                return
            outer = inner
        # held by something we cannot rewire: it stays in place, passing calls straight through
