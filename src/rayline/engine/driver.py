"""Run (or resume) one execution in this process: ``python -m rayline.engine.driver ID``.

The CLI starts executions this way, detached, so they outlive the command; the process's output
goes to ``$RAYLINE_HOME/drivers/<id>.log``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from rayline.config import settings


def spawn(execution_id: str) -> int:
    """Start a detached driver process for ``execution_id``; returns its pid."""
    log_dir = settings().home / "drivers"
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / f"{execution_id}.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rayline.engine.driver", execution_id],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return proc.pid


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("execution_id")
    args = parser.parse_args(argv)
    from rayline.engine.records import ExecutionStatus
    from rayline.engine.scheduler import Scheduler
    from rayline.store import open_artifact_store, open_database

    status = Scheduler(args.execution_id, db=open_database(), store=open_artifact_store()).run()
    return 0 if status == ExecutionStatus.SUCCEEDED else 1


if __name__ == "__main__":
    sys.exit(main())
