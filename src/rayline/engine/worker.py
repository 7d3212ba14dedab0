"""The Ray task that runs one step, on the node's own disk.

It applies the driver's S3 settings, creates the attempt's work dir on this node (inside the
store for ``file://``, a scratch directory otherwise), calls the kind's runner against local
output directories, uploads each declared output from there (``store.upload`` -> a
``Manifest``) and reports the manifests for the scheduler to commit. What the step prints is its
logs (the live log is copied to the store while it runs); user errors come back as data, with
the user's traceback, instead of letting Ray wrap them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import shutil
import sys
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray

from rayline.engine.context import (
    LIVE_LOG,
    PICKLED,
    StepContext,
    StepResult,
    attempt_parts,
    local_work_dir,
)
from rayline.engine.environment import process_state
from rayline.step_kinds import load
from rayline.store import locations
from rayline.store.artifacts import ArtifactStore, open_artifact_store

#: How often a running step's live log is copied to an object store (seconds).
LOG_SHIP_S = 1.0

MAX_LOG_CHARS = 1_000_000


@dataclass(frozen=True)
class StepOutcome:
    """What the Ray task reports: the runner's result (its properties made storable), or the
    error it raised, with the step's logs either way."""

    ok: bool
    result: StepResult = field(default_factory=StepResult)
    #: output name -> ``Manifest.to_dict()`` of every output, recorded when the step commits.
    manifests: dict[str, dict[str, Any]] = field(default_factory=dict)
    logs: str = ""
    error: str | None = None
    exception_chain: tuple[str, ...] = ()
    user_traceback: str | None = None
    #: the id of the Ray node that ran the task (where each step ran).
    node: str | None = None


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
    node = ray.get_runtime_context().get_node_id()
    with process_state(env=ctx.storage_env), ctx.acting():
        try:
            store = open_artifact_store(ctx.artifact_uri)
        except BaseException as exc:  # an unreachable bucket fails the step, with its reason
            return dataclasses.replace(_failed(exc, ""), node=node)
        work_dir = local_work_dir(store, ctx.execution_id, ctx.step_name, ctx.attempt)
        try:
            return dataclasses.replace(_run(runner_target, step, ctx, store, work_dir), node=node)
        finally:
            if store.local_path(store.uri) is None:  # node scratch: everything is uploaded
                shutil.rmtree(work_dir, ignore_errors=True)
            else:  # inputs downloaded from an object store, and the unpacked code, go
                shutil.rmtree(work_dir / "input", ignore_errors=True)
                shutil.rmtree(work_dir / "code", ignore_errors=True)


def _failed(exc: BaseException, logs: str) -> StepOutcome:
    return StepOutcome(
        ok=False,
        logs=logs,
        error=f"{type(exc).__name__}: {exc}",
        exception_chain=tuple(c.__name__ for c in type(exc).__mro__),
        user_traceback="".join(traceback.format_exception(exc)),
    )


def _run(
    runner_target: str, step: Any, ctx: StepContext, store: ArtifactStore, work_dir: Path
) -> StepOutcome:
    runner = load(runner_target)
    if work_dir.exists():  # a previous run of this attempt on this node (a resumed execution)
        shutil.rmtree(work_dir)
    if ctx.clear_attempt and store.local_path(store.uri) is None:
        # What the earlier driver's run of this attempt left in the object store goes first, so
        # the attempt's prefix holds only what this run writes.
        store.delete(store.uri_for(*attempt_parts(ctx.execution_id, ctx.step_name, ctx.attempt)))
    work_dir.mkdir(parents=True)
    outputs = {name: work_dir / "output" / name for name in ctx.output_uris}
    for path in outputs.values():
        path.mkdir(parents=True)
    ctx = dataclasses.replace(ctx, work_dir=work_dir, outputs=outputs)
    parts = attempt_parts(ctx.execution_id, ctx.step_name, ctx.attempt)
    sink = io.StringIO()
    live_path = work_dir / LIVE_LOG
    live = open(live_path, "w", buffering=1)  # noqa: SIM115 - closed in finally
    shipper = None if store.local_path(store.uri) else _LogShipper(live_path, store, parts)
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Tee(saved[0], sink, live), _Tee(saved[1], sink, live)
    try:
        result = runner(step, ctx)
        result = dataclasses.replace(result, properties=_storable(result.properties, store, parts))
        manifests = _upload_outputs(result, ctx, store)
        result = dataclasses.replace(
            result, outputs={name: m["uri"] for name, m in manifests.items()}
        )
        return StepOutcome(ok=True, result=result, manifests=manifests, logs=_tail(sink.getvalue()))
    except BaseException as exc:
        return _failed(exc, _tail(sink.getvalue()))
    finally:
        sys.stdout, sys.stderr = saved
        live.close()
        if shipper is not None:
            shipper.stop()


def _upload_outputs(
    result: StepResult, ctx: StepContext, store: ArtifactStore
) -> dict[str, dict[str, Any]]:
    """Upload each declared output from the node (on ``file://`` it is already in place: only
    hashed) and hash the outputs the runner stored elsewhere; returns their manifests."""
    manifests = {
        name: store.upload(ctx.outputs[name], uri).to_dict()
        for name, uri in ctx.output_uris.items()
        if name not in result.outputs
    }
    for name, uri in result.outputs.items():
        # An output the runner stored elsewhere is hashed once, where it is, at commit.
        manifests[name] = locations.manifest(uri).to_dict()
    return manifests


class _LogShipper:
    """Copies the live log to the store every ``LOG_SHIP_S`` while the step runs, so
    ``Execution.logs`` can read it from any machine; a last copy when the step ends."""

    def __init__(self, path: Path, store: ArtifactStore, parts: tuple[str, ...]) -> None:
        self.path, self.store, self.parts = path, store, parts
        self.sent = -1
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="rayline-log-shipper", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stopped.wait(LOG_SHIP_S):
            self._ship()

    def _ship(self) -> None:
        # A failed copy is retried on the next tick: the live log is a convenience, the
        # final log is recorded with the step run.
        with contextlib.suppress(Exception):
            size = self.path.stat().st_size
            if size != self.sent:
                self.store.put_bytes(self.path.read_bytes(), *self.parts, LIVE_LOG)
                self.sent = size

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()
        self._ship()


def _storable(
    properties: dict[str, Any], store: ArtifactStore, parts: tuple[str, ...]
) -> dict[str, Any]:
    """Properties as JSON; a value that is not JSON is pickled into the store (under the
    attempt's prefix) instead."""
    out: dict[str, Any] = {}
    for key, value in properties.items():
        try:
            json.dumps(value)
            out[key] = value
        except (TypeError, ValueError):
            import cloudpickle

            uri = store.put_bytes(cloudpickle.dumps(value), *parts, "properties", f"{key}.pkl")
            out[key] = {PICKLED: uri}
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
