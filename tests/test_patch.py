"""`Patch`: wrappers that come out wherever they sit in a chain of wrappers."""

from __future__ import annotations

import itertools
import types
from typing import Any

import pytest
import wrapt

from lgscope._patch import Patch


class Greeter:
    def greet(self, name: str) -> str:
        return f"hello {name}"


def _tagging(tag: str) -> Any:
    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        return f"{tag}({wrapped(*args, **kwargs)})"

    return wrapper


ORIGINAL = Greeter.__dict__["greet"]


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_patches_come_out_in_any_order_and_leave_the_original(order: tuple[int, ...]) -> None:
    patches = [Patch(Greeter, "greet", _tagging(tag)) for tag in "abc"]
    for patch in patches:
        patch.apply()
    assert Greeter().greet("x") == "c(b(a(hello x)))"
    left = list("abc")
    for i in order:
        patches[i].remove()
        left.remove("abc"[i])
        expected = "hello x"
        for tag in left:
            expected = f"{tag}({expected})"
        assert Greeter().greet("x") == expected
    assert Greeter.__dict__["greet"] is ORIGINAL


def test_a_patch_under_a_foreign_wrapt_wrapper_is_cut_out_of_it() -> None:
    ours = Patch(Greeter, "greet", _tagging("ours"))
    ours.apply()
    wrapt.wrap_function_wrapper(Greeter, "greet", _tagging("theirs"))
    ours.remove()
    assert Greeter().greet("x") == "theirs(hello x)"
    assert Greeter.__dict__["greet"].__wrapped__ is ORIGINAL
    Greeter.greet = ORIGINAL  # type: ignore[method-assign]


def test_a_patch_held_by_a_plain_function_passes_calls_through() -> None:
    module = types.ModuleType("m")
    module.f = lambda n: n + 1  # type: ignore[attr-defined]
    ours = Patch(module, "f", _tagging("ours"))
    ours.apply()
    held = module.f  # type: ignore[attr-defined]
    module.f = lambda n: held(n) * 10  # type: ignore[attr-defined]
    assert module.f(1) == "ours(2)" * 10  # type: ignore[attr-defined]
    ours.remove()
    assert module.f(1) == 20  # type: ignore[attr-defined]
    assert not ours.applied
