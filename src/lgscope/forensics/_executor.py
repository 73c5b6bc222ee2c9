"""Where a scan's parallel part runs: any `concurrent.futures.Executor`.

`LocalProcesses` (the default) is a pool of plain ``python -m lgscope.forensics._worker``
subprocesses; `dask_executor` connects to a Dask distributed scheduler. A scan only submits
module-level functions with picklable arguments (a way to reopen the store, thread ids, the
detector config), so any executor whose workers have lgscope installed can run them.
"""

from __future__ import annotations

import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, BinaryIO

from lgscope._exceptions import MissingExtra, UsageError

__all__ = ["LocalProcesses", "WorkerLost", "dask_executor", "serve"]


class WorkerLost(RuntimeError):
    """A worker process ended before it returned its task's result."""


class LocalProcesses(Executor):
    """``workers`` Python subprocesses of this machine, each running one task at a time.

    Plain subprocesses rather than multiprocessing: multiprocessing's spawn re-imports the
    caller's main module, which breaks scripts without an ``if __name__ == "__main__"`` guard.
    Only this process's own pickles are read back: nothing from the store is unpickled. A
    worker that dies fails its task with `WorkerLost`; the others take the remaining tasks.
    """

    def __init__(self, workers: int) -> None:
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._alive = 0
        self._procs = [_Worker() for _ in range(workers)]
        self._threads = [
            threading.Thread(target=self._feed, args=(w,), daemon=True, name="lgscope-scan-feed")
            for w in self._procs
        ]
        self._alive = len(self._threads)
        for t in self._threads:
            t.start()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if kwargs:
            raise TypeError("LocalProcesses.submit takes positional arguments only")
        future: Future[Any] = Future()
        with self._lock:
            if self._alive == 0:
                future.set_exception(WorkerLost("every worker process has ended"))
                return future
            self._jobs.put((future, fn, args))
        return future

    def _feed(self, worker: _Worker) -> None:
        # one thread per worker: hand it the next task, wait for its result, repeat
        while True:
            job = self._jobs.get()
            if job is None:
                return
            future, fn, args = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                ok, value = worker.call(fn, args)
            except WorkerLost as exc:
                future.set_exception(exc)
                self._retire()
                return
            if ok:
                future.set_result(value)
            else:
                future.set_exception(RuntimeError(value))

    def _retire(self) -> None:
        """A worker is gone: when it was the last, fail whatever is still queued."""
        with self._lock:
            self._alive -= 1
            if self._alive:
                return
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            if job is not None and job[0].set_running_or_notify_cancel():
                job[0].set_exception(WorkerLost("every worker process has ended"))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if cancel_futures:  # what has not started never will; running tasks end with their process
            while True:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    job[0].cancel()
            for w in self._procs:
                w.proc.kill()
        for _ in self._threads:
            self._jobs.put(None)
        if wait:
            for t in self._threads:
                t.join()
        for w in self._procs:
            w.close()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        # leaving on an error (Ctrl-C included) stops the workers instead of finishing their queue
        self.shutdown(wait=True, cancel_futures=exc_type is not None)


class _Worker:
    """One child Python running `serve`: pickled calls in on stdin, results out on a pipe."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        # Results come back on a pipe of their own: whatever a library prints in the worker
        # goes to its stdout (discarded), never into the stream of results.
        read, write = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "lgscope.forensics._worker", str(write)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                pass_fds=(write,),
                env=env,
            )
        except BaseException:
            os.close(read)
            raise
        finally:
            os.close(write)
        self._results = os.fdopen(read, "rb")

    def call(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[bool, Any]:
        """(True, result) or (False, the error's text); `WorkerLost` if the process is gone."""
        try:
            assert self.proc.stdin is not None
            pickle.dump((fn, args), self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self.proc.stdin.flush()
            answer = pickle.load(self._results)
        except (OSError, EOFError, pickle.UnpicklingError) as exc:
            raise WorkerLost(f"a scan worker process ended ({type(exc).__name__})") from None
        if not (isinstance(answer, tuple) and len(answer) == 2 and isinstance(answer[0], bool)):
            raise WorkerLost("a scan worker process answered out of turn")
        return answer

    def close(self) -> None:
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        finally:
            self._results.close()


def serve(stdin: BinaryIO, results: BinaryIO) -> None:
    """The worker's side: answer each pickled ``(fn, args)`` from the parent with its result."""
    while True:
        try:
            fn, args = pickle.load(stdin)
        except EOFError:
            return
        try:
            answer: tuple[bool, Any] = (True, fn(*args))
        except Exception as exc:  # the parent decides what a failed task means
            answer = (False, f"{type(exc).__name__}: {exc}")
        try:
            pickle.dump(answer, results, protocol=pickle.HIGHEST_PROTOCOL)
            results.flush()
        except BrokenPipeError:
            return  # the parent is gone (it stopped the scan): nothing to answer


def dask_executor(address: str) -> tuple[Executor, int]:
    """An executor on the Dask distributed scheduler at ``address`` (``tcp://host:8786``) and how
    many tasks its workers run at once; call its ``shutdown()`` to disconnect."""
    try:
        import distributed
    except ImportError as exc:
        raise MissingExtra("Scanning on a Dask cluster (--executor)", "dask") from exc
    try:
        connect: Any = distributed.Client  # untyped
        client = connect(address, timeout="10s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise UsageError(
            f"Cannot reach the Dask scheduler at {address} ({exc}); check that it is running and the "
            "address is tcp://HOST:PORT."
        ) from None
    slots = int(sum(client.nthreads().values()))
    if slots == 0:
        client.close()
        raise UsageError(
            f"The Dask scheduler at {address} has no workers; start some with: dask worker {address}."
        )
    return _DaskExecutor(client), slots


class _DaskExecutor(Executor):
    """Dask's own concurrent.futures executor, closing its client when shut down."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._executor = client.get_executor(pure=False)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = self._executor.submit(fn, *args, **kwargs)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._executor.shutdown(wait=wait)
        self._client.close()
