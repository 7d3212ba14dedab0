"""The Ray task that runs one step: it calls the kind's runner, captures the step's output as
its logs, and reports user errors as data (with the user's traceback) instead of letting Ray
wrap them."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any

import ray

from rayline.engine.context import LIVE_LOG, PICKLED, StepContext, StepResult
from rayline.step_kinds import load

MAX_LOG_CHARS = 1_000_000


@dataclass(frozen=True)
class StepOutcome:
    """What the Ray task reports: the runner's result (its properties made storable), or the
    error it raised, with the step's logs either way."""

    ok: bool
    result: StepResult = field(default_factory=StepResult)
    logs: str = ""
    error: str | None = None
    exception_chain: tuple[str, ...] = ()
    user_traceback: str | None = None


class _Tee(io.TextIOBase):
    """Keeps what the step prints, appends it to the live log (readable while the step runs),
    and still passes it to the worker's own stream."""

    def __init__(self, stream: Any, sink: io.StringIO, live: Any) -> None:
        self.stream, self.sink, self.live = stream, sink, live

    def write(self, text: str) -> int:
        self.sink.write(text)
        if _PROGRESS_MARK not in text:
            self.live.write(text)
        with contextlib.suppress(Exception):
            self.stream.write(text)
        return len(text)

    def flush(self) -> None:
        self.live.flush()
        self.stream.flush()


@ray.remote(max_retries=0)
def run_step(runner_target: str, step: Any, ctx: StepContext) -> StepOutcome:
    """Run ``step`` inside this Ray worker with its kind's runner (``module:attribute``, as the
    driver's ``rayline.step_kinds`` names it)."""
    runner = load(runner_target)
    sink = io.StringIO()
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    live = open(ctx.work_dir / LIVE_LOG, "w", buffering=1)  # noqa: SIM115 - closed in finally
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Tee(saved[0], sink, live), _Tee(saved[1], sink, live)
    try:
        result = runner(step, ctx)
        result = dataclasses.replace(result, properties=_storable(result.properties, ctx))
        return StepOutcome(ok=True, result=result, logs=_tail(sink.getvalue()))
    except BaseException as exc:
        chain = tuple(c.__name__ for c in type(exc).__mro__)
        tb = "".join(traceback.format_exception(exc))
        return StepOutcome(
            ok=False,
            logs=_tail(sink.getvalue()),
            error=f"{type(exc).__name__}: {exc}",
            exception_chain=chain,
            user_traceback=tb,
        )
    finally:
        sys.stdout, sys.stderr = saved
        live.close()


def _storable(properties: dict[str, Any], ctx: StepContext) -> dict[str, Any]:
    """Properties as JSON; a value that is not JSON is pickled into the work dir instead."""
    out: dict[str, Any] = {}
    for key, value in properties.items():
        try:
            json.dumps(value)
            out[key] = value
        except (TypeError, ValueError):
            import cloudpickle

            path = ctx.work_dir / f"{key}.pkl"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(cloudpickle.dumps(value))
            out[key] = {PICKLED: path.as_uri()}
    return out


# Ray Data's progress bars in a worker are JSON lines meant for the driver's renderer.
_PROGRESS_MARK = "__ray_tqdm_magic_token__"


def _tail(text: str) -> str:
    if _PROGRESS_MARK in text:
        text = "".join(
            line for line in text.splitlines(keepends=True) if _PROGRESS_MARK not in line
        )
    if len(text) <= MAX_LOG_CHARS:
        return text
    return f"[... {len(text) - MAX_LOG_CHARS} earlier characters cut ...]\n" + text[-MAX_LOG_CHARS:]
