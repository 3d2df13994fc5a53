"""Runs ingest() in a child process, so a parser that crashes, runs away or eats memory takes down
only that child: the caller (a Celery worker) gets a typed error and goes on with the next file.

The child gets its job on stdin (a password never appears in a process listing), reports progress
as JSON lines on stdout, and hands the result back as a pickle in a private temporary file. It
must never let an error other than a QuireError reach the caller.
"""

from __future__ import annotations

import json
import os
import pickle
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict

from analysis import errors
from analysis.ingest.document import IngestedDocument
from analysis.ingest.limits import DEFAULT_LIMITS, IngestLimits

# How often the parent wakes to check the deadline while the child is quiet.
_POLL_S = 0.5


def ingest_isolated(
    path: str | os.PathLike[str],
    *,
    kind: str | None = None,
    password: str | None = None,
    ocr: bool = True,
    limits: IngestLimits = DEFAULT_LIMITS,
    progress=None,
) -> IngestedDocument:
    """Same contract as analysis.ingest.ingest(), with the work done in a bounded child process."""
    if not os.path.exists(path):
        raise FileNotFoundError(path)  # the server's own copy is missing: not the document's fault
    fd, result_path = tempfile.mkstemp(prefix="quire-ingest-", suffix=".pickle")
    os.close(fd)
    job = {
        "path": os.fspath(path),
        "kind": kind,
        "password": password,
        "ocr": ocr,
        "limits": asdict(limits),
        "result_path": result_path,
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "analysis.ingest.isolated"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # pdf libraries chatter; nothing there is for the user
        start_new_session=True,
    )
    try:
        child.stdin.write(json.dumps(job).encode())
        child.stdin.close()
        outcome = _follow(child, deadline=time.monotonic() + limits.time_budget_s, progress=progress)
        if outcome is None:
            _kill(child)
            raise errors.IngestTimeoutError(
                f"Reading this file took longer than {limits.time_budget_s:.0f} seconds; Quire stopped it."
            )
        child.wait()
        if "error" in outcome:
            raise _error_from(outcome["error"])
        if outcome.get("done"):
            with open(result_path, "rb") as handle:
                return pickle.load(handle)
        raise _crashed(child.returncode, limits)
    finally:
        _kill(child)
        try:
            os.unlink(result_path)
        except FileNotFoundError:
            pass


def _follow(child: subprocess.Popen, *, deadline: float, progress) -> dict | None:
    """Relay progress until the child reports an outcome; {} if it died silently, None on timeout."""
    selector = selectors.DefaultSelector()
    selector.register(child.stdout, selectors.EVENT_READ)
    buffer = b""
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if not selector.select(timeout=min(_POLL_S, remaining)):
                continue
            chunk = os.read(child.stdout.fileno(), 65536)
            if not chunk:
                return {}
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                message = json.loads(line)
                if "progress" in message:
                    if progress is not None:
                        progress(*message["progress"])
                else:
                    return message
    finally:
        selector.close()


def _kill(child: subprocess.Popen) -> None:
    if child.poll() is None:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        child.wait()


def _error_from(payload: dict) -> errors.QuireError:
    cls = getattr(errors, payload.get("class", ""), None)
    if not (isinstance(cls, type) and issubclass(cls, errors.QuireError)):
        cls = errors.IngestError
    return cls(payload["message"])


def _crashed(returncode: int | None, limits: IngestLimits) -> errors.QuireError:
    if returncode == -signal.SIGXCPU:
        return errors.IngestTimeoutError("Reading this file used more processor time than allowed; Quire stopped it.")
    if returncode is not None and returncode < 0:
        return errors.CorruptDocumentError(
            f"Reading this file crashed the document reader (signal {-returncode}); "
            "the file may be damaged or need more memory than Quire allows."
        )
    return errors.CorruptDocumentError("Reading this file stopped the document reader; the file may be damaged.")


# --- the child side ------------------------------------------------------------------------------


def _emit(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


_OUT_OF_MEMORY = "Reading this file needs more memory than Quire allows for one document."


def _child_main() -> int:
    import errno
    import resource

    job = json.loads(sys.stdin.read())
    limits = IngestLimits(**job["limits"])
    # The kernel enforces these even if a C parser loops or allocates without end.
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    cpu = int(limits.time_budget_s) + 5
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    try:
        # Imported under the limits: a library that cannot even load is a memory failure too.
        from analysis.ingest import ingest

        document = ingest(
            job["path"],
            kind=job["kind"],
            password=job["password"],
            ocr=job["ocr"],
            limits=limits,
            progress=lambda done, total, stage: _emit({"progress": [done, total, stage]}),
        )
        with open(job["result_path"], "wb") as handle:
            pickle.dump(document, handle, protocol=pickle.HIGHEST_PROTOCOL)
    except errors.QuireError as error:
        _emit({"error": {"class": type(error).__name__, "code": error.code, "message": error.message}})
        return 0
    except MemoryError:
        _emit({"error": {"class": "DocumentTooLargeError", "code": "too_large", "message": _OUT_OF_MEMORY}})
        return 0
    except OSError as error:
        if error.errno != errno.ENOMEM and "allocate memory" not in str(error):
            raise
        _emit({"error": {"class": "DocumentTooLargeError", "code": "too_large", "message": _OUT_OF_MEMORY}})
        return 0
    _emit({"done": True})
    return 0


if __name__ == "__main__":
    sys.exit(_child_main())
