"""Worker processes that isolate each file: a crash or a stall fails that file, the run goes on.

libcst's parser is native code. On hostile input it can crash the process
(segmentation fault on deeply nested brackets that Python's parser would have
refused, see ``source.python_parse_error``) or run for minutes (quadratic time
on operator chains thousands of terms long). Neither can be caught inside the
process that runs it, so every file, with ``--jobs 1`` too, is rewritten in a
worker process that the parent watches:

* a worker that dies fails the file it was on ("crashed", with the signal) and
  is replaced by a fresh one; the files queued behind it go to the new worker;
* a file that takes longer than ``timeout`` seconds is stopped (its worker is
  killed and replaced) and fails with a message naming the option that raises the
  limit;
* on Ctrl-C the parent stops handing out files, lets each worker finish the file
  it is on (a write is atomic either way), and reports every file finished.

Workers are forked where the platform allows it: they start with the parent's
modules already imported, which keeps a one-file run about as fast as running
in-process. Files go out in small batches (two per worker in flight) and results
come back one by one, so the parent always knows which file a worker is on.
"""

from __future__ import annotations

import faulthandler
import glob
import multiprocessing
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from migrate.rewrite.engine import Task, process, warm_up
from migrate.rewrite.findings import FileResult

#: Default per-file time limit in seconds (``--timeout`` changes it). A real file of
#: 10,000 lines takes about a second; the limit is there for input that would take minutes.
DEFAULT_TIMEOUT = 60.0

#: How long, after Ctrl-C, workers may take to finish the file they are on.
STOP_GRACE = 3.0

_INTERRUPTED = "interrupted"  # a worker's answer when a file was interrupted inside it


def _context() -> Any:
    """``fork`` where it exists and is safe to use (Linux); ``spawn`` elsewhere."""
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _on_sigterm(signum: int, frame: object) -> None:
    # Unwind through ``atomic_write``'s clean-up instead of dying with a temp file left behind.
    raise SystemExit(128 + signum)


def _worker_main(conn: Connection, inherited: list[int]) -> None:
    """Loop of one worker: receive batches of ``(index, Task)``, send ``(index, FileResult)`` per file.

    ``None`` from the parent means stop after the current file. Ctrl-C in a terminal
    reaches the whole process group; the parent alone handles it, so workers ignore it.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    # A crash is the parent's one-line report; a fault handler inherited from the parent
    # (``python -X faulthandler``, pytest) would add a stack dump per crashed file.
    faulthandler.disable()
    for fd in inherited:  # the parent's ends of the other workers' pipes (fork copies them)
        try:
            os.close(fd)
        except OSError:
            pass
    warm_up()  # at once where the worker was forked from a warm parent; the imports under ``spawn``
    queue: deque[tuple[int, Task]] = deque()
    while True:
        try:
            while not queue or conn.poll():
                message = conn.recv()
                if message is None:
                    return
                queue.extend(message)
        except (EOFError, OSError):  # the parent is gone
            return
        index, task = queue.popleft()
        try:
            result: object = process(task)
        except KeyboardInterrupt:
            result = _INTERRUPTED
        except Exception as exc:  # pragma: no cover - ``process`` catches what files can cause
            result = FileResult(task.path, "failed", error=f"internal error {type(exc).__name__}: {exc}; "
                                                           "file left untouched, please report")
        try:
            conn.send((index, result))
        except (OSError, ValueError):
            return
        if result == _INTERRUPTED:
            return


@dataclass
class _Worker:
    process: Any  # multiprocessing.Process
    conn: Connection
    inflight: deque[int] = field(default_factory=deque)  # indexes sent, in the order it runs them
    since: float = 0.0  # when it started on ``inflight[0]``

    def alive(self) -> bool:
        return bool(self.process.is_alive())


class Runner:
    """Run ``tasks`` in ``jobs`` worker processes; iterate for the results in input order.

    ``progress(done, total)`` is called as each file finishes. After a
    ``KeyboardInterrupt`` (raised wherever the parent was), ``stop()`` ends the
    workers and returns the results finished but not yet yielded.
    """

    def __init__(self, tasks: list[Task], jobs: int, timeout: float = DEFAULT_TIMEOUT,
                 progress: Callable[[int, int], None] | None = None) -> None:
        self.tasks = tasks
        self.jobs = max(1, min(jobs, len(tasks)))
        self.timeout = timeout
        self.progress = progress
        self.batch = max(1, min(16, len(tasks) // (self.jobs * 4)))
        self.pending: deque[int] = deque(range(len(tasks)))
        self.results: dict[int, FileResult] = {}
        self.next = 0  # index of the next result to yield
        self.workers: list[_Worker] = []
        self.ctx = _context()

    # -- workers ------------------------------------------------------------------------

    def _start_worker(self) -> _Worker:
        parent, child = self.ctx.Pipe(duplex=True)
        inherited = [w.conn.fileno() for w in self.workers if not w.conn.closed]
        proc = self.ctx.Process(target=_worker_main, args=(child, inherited), daemon=True,
                                name="migrate-rewrite-worker")
        proc.start()
        child.close()
        worker = _Worker(proc, parent)
        self.workers.append(worker)
        return worker

    def _feed(self, worker: _Worker) -> None:
        """Keep about two batches in flight, so that a worker never waits for the parent."""
        while self.pending and len(worker.inflight) <= self.batch:
            batch = [self.pending.popleft() for _ in range(min(self.batch, len(self.pending)))]
            if not worker.inflight:
                worker.since = time.monotonic()
            worker.inflight.extend(batch)
            try:
                worker.conn.send([(i, self.tasks[i]) for i in batch])
            except (OSError, ValueError):
                return  # it died; ``_drain`` sees that and hands its files on

    def _finish(self, index: int, result: FileResult) -> None:
        self.results[index] = result
        if self.progress:
            self.progress(len(self.results), len(self.tasks))

    def _drain(self, worker: _Worker) -> None:
        """Take every result the worker has sent; when it has died, fail its file and replace it.

        A dead worker's pipe still holds what it sent before dying; the end of the
        pipe (EOF) comes after that, so its results are never lost.
        """
        try:
            while worker.conn.poll():
                index, result = worker.conn.recv()
                if result == _INTERRUPTED:
                    raise KeyboardInterrupt
                if worker.inflight and worker.inflight[0] == index:
                    worker.inflight.popleft()
                worker.since = time.monotonic()
                self._finish(index, result)
        except (EOFError, OSError):
            self._replace(worker, self._death_message(worker))

    def _death_message(self, worker: _Worker) -> str:
        worker.process.join(0.1)
        code = worker.process.exitcode
        if code is not None and code < 0:
            try:
                how = signal.Signals(-code).name
            except ValueError:
                how = f"signal {-code}"
        else:
            how = f"exit status {code}"
        return (f"crashed the parser ({how}); file left untouched. The run went on; simplify the deepest "
                "nesting or longest expression of this file, or report it")

    def _replace(self, worker: _Worker, message: str) -> None:
        """``worker`` died or was stopped: fail the file it was on, hand the rest on to a fresh worker."""
        if worker.alive():
            worker.process.kill()
        worker.process.join()
        worker.conn.close()
        self.workers.remove(worker)
        if worker.inflight:
            culprit = worker.inflight.popleft()
            _remove_temp_files(self.tasks[culprit])
            self._finish(culprit, FileResult(self.tasks[culprit].path, "failed", error=message))
            self.pending.extendleft(reversed(worker.inflight))
        if self.pending and len(self.workers) < self.jobs:
            self._feed(self._start_worker())

    def _expire(self, now: float) -> float | None:
        """Stop workers over the time limit; return the seconds until the next limit (None: none)."""
        soonest: float | None = None
        for worker in list(self.workers):
            if not worker.inflight:
                continue
            left = worker.since + self.timeout - now
            if left <= 0:
                self._drain(worker)  # it may have finished just now
                if worker in self.workers and worker.inflight and worker.since + self.timeout <= now:
                    self._replace(worker, f"took longer than the time limit of {self.timeout:g} s and was "
                                          "stopped; file left untouched (raise the limit with --timeout SECONDS)")
                continue
            soonest = left if soonest is None else min(soonest, left)
        return soonest

    # -- iteration ----------------------------------------------------------------------

    def __iter__(self) -> Iterator[FileResult]:
        if not self.tasks:
            return
        # Import the whole pipeline once, here: forked workers start with it, so a
        # worker's first file is not charged the import time against the time limit.
        warm_up()
        while self.next < len(self.tasks):
            while self.next in self.results:
                yield self.results.pop(self.next)
                self.next += 1
            if self.next >= len(self.tasks):
                break
            while len(self.workers) < self.jobs and self.pending:
                self._start_worker()
            for worker in self.workers:
                self._feed(worker)
            soonest = self._expire(time.monotonic())
            if not self.workers or not any(w.inflight for w in self.workers):
                continue  # the last file in flight was stopped: its result is in, or files go to a new worker
            waitables: list[Any] = [w.conn for w in self.workers] + [w.process.sentinel for w in self.workers]
            ready = wait(waitables, timeout=soonest)
            for worker in list(self.workers):
                if worker.conn in ready or worker.process.sentinel in ready:
                    self._drain(worker)
        self.close()

    def stop(self) -> list[FileResult]:
        """End the run early: workers finish their current file; return the results not yet yielded.

        A second Ctrl-C while waiting kills the workers at once (a file being written
        is then left as it was: writes go through a temporary file).
        """
        try:
            for worker in self.workers:
                try:
                    worker.conn.send(None)
                except (OSError, ValueError):
                    pass
            deadline = time.monotonic() + STOP_GRACE
            while any(w.alive() and w.inflight for w in self.workers):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                busy = [w for w in self.workers if w.inflight]
                wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=left)
                for worker in self.workers:
                    self._collect(worker)
            for worker in self.workers:  # what a worker sent just before it exited
                self._collect(worker)
        except KeyboardInterrupt:
            pass
        finally:
            self.close()
        done = [self.results[i] for i in sorted(self.results) if i >= self.next]
        self.results.clear()
        return done

    def _collect(self, worker: _Worker) -> None:
        """Take the results a stopping worker has sent, without waiting; forget its files once it has exited."""
        try:
            while worker.conn.poll():
                index, result = worker.conn.recv()
                if worker.inflight and worker.inflight[0] == index:
                    worker.inflight.popleft()
                if result != _INTERRUPTED:
                    self.results[index] = result
        except (EOFError, OSError):
            worker.inflight.clear()  # it has exited: the files it did not start were never touched

    def close(self) -> None:
        """Terminate every worker (SIGTERM lets a write in progress remove its temp file)."""
        for worker in self.workers:
            if worker.alive():
                worker.process.terminate()
        for worker in self.workers:
            worker.process.join(0.5)
            if worker.alive():
                worker.process.kill()
                worker.process.join()
            if worker.inflight:
                _remove_temp_files(self.tasks[worker.inflight[0]])
            worker.conn.close()
        self.workers.clear()


def _remove_temp_files(task: Task) -> None:
    """Remove what ``atomic_write`` may have left for ``task`` when its worker was killed mid-write."""
    dest = task.output or task.path
    directory, name = os.path.split(os.path.abspath(dest))
    for tmp in glob.glob(os.path.join(glob.escape(directory), f".{glob.escape(name)}.*.migrate-tmp")):
        try:
            os.unlink(tmp)
        except OSError:
            pass


def run(tasks: list[Task], jobs: int, progress: Callable[[int, int], None] | None = None,
        timeout: float = DEFAULT_TIMEOUT) -> Iterator[FileResult]:
    """Results of ``tasks`` in input order (a plain generator over a ``Runner``)."""
    runner = Runner(tasks, jobs, timeout, progress)
    try:
        yield from runner
    finally:
        runner.close()
