"""The tracking worker: ``python -m rayline.tracking.worker``, started by
:mod:`rayline.tracking.background`, one per driver process.

It reads one JSON job per line on stdin (``{"id", "target": "module:function", "kwargs"}``,
and ``"env"`` when the driver's settings changed), runs them one at a time in that order with
the driver's settings of the moment, and answers each on its stdout (``{"id", "result"}`` or
``{"id", "error"}``). It exits once stdin closes and every job read has run, so a driver that
exits (or dies) loses nothing it queued.
It runs at the lowest CPU priority: on a small machine the steps come first.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from typing import Any

from rayline.tracking.background import ENV_PREFIXES

#: How much lower than the driver's the worker's CPU priority is (``nice``).
NICENESS = 19


def ping() -> None:
    """A job that does nothing: answering it means every job before it has run."""


def _use_env(env: dict[str, str]) -> None:
    # The driver's settings when the job was queued, exactly: set what it had, drop the rest.
    for key in [k for k in os.environ if k.startswith(ENV_PREFIXES) and k not in env]:
        del os.environ[key]
    os.environ.update(env)


def _run(job: dict[str, Any]) -> dict[str, Any]:
    from rayline.step_kinds import load

    try:
        if "env" in job:  # sent when it changed: otherwise the last one still holds
            _use_env(job["env"])
        result = load(job["target"])(**job.get("kwargs") or {})
        json.dumps(result)  # an answer must be JSON: a result that is not is reported as such
        return {"id": job["id"], "result": result}
    except BaseException as exc:  # one job's failure never stops the worker
        return {"id": job["id"], "error": f"{type(exc).__name__}: {exc}"}


def main() -> None:
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    # Ctrl-C in a terminal reaches the whole process group: the driver decides, and the worker
    # still finishes what it was sent once the driver closes its stdin.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Answers go to a private copy of stdout; anything a library prints goes to stderr instead
    # of into the answers.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    for line in sys.stdin:
        if line.strip():
            answers.write(json.dumps(_run(json.loads(line))) + "\n")


if __name__ == "__main__":
    main()
