"""Writes docs/tui-thread.svg: the thread screen on the sample store, as Textual renders it.

python docs/make_screenshot.py
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from lgscope import open_store
from lgscope.examples import REFERENCE_NOW
from lgscope.tui.app import LgscopeApp

ROOT = Path(__file__).resolve().parents[1]


async def main() -> None:
    app = LgscopeApp(
        open_store(ROOT / "fixtures/stores/sample.sqlite"),
        thread_id="support-loop-gave-up",
        now=REFERENCE_NOW,
    )
    app.sub_title = "fixtures/stores/sample.sqlite"
    async with app.run_test(size=(160, 44)) as pilot:
        await app.workers.wait_for_complete()  # the thread is read in a worker
        await pilot.pause()
        await pilot.press("n", "j")
        await app.workers.wait_for_complete()
        await pilot.pause()
        app.save_screenshot(filename="tui-thread.svg", path=str(ROOT / "docs"))


if __name__ == "__main__":
    asyncio.run(main())
