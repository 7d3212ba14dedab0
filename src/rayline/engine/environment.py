"""Scoped changes to the process a step runs in: environment variables, working directory and
``sys.argv``, restored afterwards (Ray reuses worker processes, so a step must leave none of its
settings behind for the next one)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def process_state(
    *, env: Mapping[str, str], cwd: Path | None = None, keep_existing: bool = False
) -> Iterator[None]:
    """Set ``env`` (and change into ``cwd``, creating it) for the duration of the block.

    ``keep_existing=True`` sets only the variables the process does not already have, so a
    user's own setting wins. Environment, working directory and ``sys.argv`` are restored on exit.
    """
    if keep_existing:
        env = {k: v for k, v in env.items() if k not in os.environ}
    saved_env = {k: os.environ.get(k) for k in env}
    saved_cwd, saved_argv = os.getcwd(), list(sys.argv)
    os.environ.update(env)
    if cwd is not None:
        cwd.mkdir(parents=True, exist_ok=True)
        os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        sys.argv = saved_argv
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
