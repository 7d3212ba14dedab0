"""What a step runner receives (``StepContext``) and returns (``StepResult``), and the
``ProcessingContext`` a processing script or function reads its inputs and outputs from."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rayline.config import acting_as, embedded, settings
from rayline.definition.expressions import Resolver

#: A property value that is not JSON is pickled into the store and kept as {PICKLED: uri}.
PICKLED = "__pickle__"


def load_stored(value: Any, store: Any = None) -> Any:
    """A property value as the step returned it (unpickling what was stored by reference,
    read through the artifact store: ``store``, else the configured one)."""
    if isinstance(value, dict) and set(value) == {PICKLED}:
        import cloudpickle

        from rayline.store.artifacts import open_artifact_store

        return cloudpickle.loads((store or open_artifact_store()).get_bytes(value[PICKLED]))
    return value


#: What a running step prints, as it prints it (the step run's ``logs`` once it ends).
LIVE_LOG = "step.log"


def attempt_parts(execution_id: str, step_name: str, attempt: int) -> tuple[str, ...]:
    """The store prefix (parts under the root) of one attempt of a step: everything the attempt
    writes lies under it, so an attempt never committed leaves only objects ``gc`` collects."""
    return ("executions", execution_id, step_name, f"attempt-{attempt}")


def output_uri(store: Any, execution_id: str, step_name: str, attempt: int, name: str) -> str:
    """Where an attempt's declared output ``name`` is uploaded (visible once committed)."""
    return store.uri_for(*attempt_parts(execution_id, step_name, attempt), "output", name)


def local_work_dir(store: Any, execution_id: str, step_name: str, attempt: int) -> Path:
    """The directory on this node where an attempt runs: inside the store for ``file://`` (its
    outputs are then already in place), else a scratch directory on the node's own disk."""
    parts = attempt_parts(execution_id, step_name, attempt)
    local = store.local_path(store.uri_for(*parts))
    if local is not None:
        return local
    import tempfile

    return Path(tempfile.gettempdir(), "rayline-steps", *parts)


@dataclass(frozen=True)
class StepContext:
    """Everything a runner needs, picklable (it crosses into a Ray task).

    ``resolver`` is set only for kinds the scheduler runs itself (``on_ray=False`` in
    ``rayline.step_kinds``): their fields are resolved lazily, against the execution's state, by
    the runner. A Ray task receives its step already resolved and no resolver.
    """

    execution_id: str
    pipeline_name: str
    step_name: str
    attempt: int
    work_dir: Path
    outputs: dict[str, Path]
    artifact_uri: str
    db_url: str
    home: str
    mlflow_tracking_uri: str
    online_store_uri: str
    parameters: dict[str, Any]
    resolver: Resolver | None = field(default=None, compare=False)
    #: Where each declared output is uploaded once the runner returns (``ctx.outputs`` are the
    #: local directories the runner writes; the Ray task uploads them from there).
    output_uris: dict[str, str] = field(default_factory=dict)
    #: The S3 settings of the driver (``S3Connection.environment()``), applied for the step:
    #: a Ray worker started before they were set would otherwise miss them.
    storage_env: dict[str, str] = field(default_factory=dict)
    #: An earlier driver already ran this attempt (a resumed execution): whatever it left under
    #: the attempt's prefix is removed before the step runs again.
    clear_attempt: bool = False
    #: Who started the execution: whom the step's own records (a registered model version, a
    #: deployed endpoint) name as who acted, on whichever process runs it (``acting()``).
    started_by: str | None = None

    def acting(self) -> contextlib.AbstractContextManager[None]:
        """A block in which ``settings().user`` is whoever started the execution, and the API
        the step calls is embedded: a step works on its driver's stores, never through a
        server (a Ray worker may have inherited ``RAYLINE_SERVER_URL``)."""
        block = contextlib.ExitStack()
        block.enter_context(embedded())
        if self.started_by:
            block.enter_context(acting_as(self.started_by))
        return block

    def materialize(self, source: str, *, name: str) -> Path:
        """A local path holding the input ``source`` (a local path, a URI in the artifact store
        or any ``s3://`` URI): downloaded into this node's work dir when it is not local."""
        from rayline.engine.staging import materialize_input
        from rayline.store.artifacts import open_artifact_store

        store = open_artifact_store(self.artifact_uri)
        return materialize_input(source, self.work_dir / "input" / name, store=store)

    def env(self) -> dict[str, str]:
        """Settings for code running in the step, so it uses the driver's stores."""
        return {
            "RAYLINE_HOME": self.home,
            "RAYLINE_DB_URL": self.db_url,
            "RAYLINE_ARTIFACT_URI": self.artifact_uri,
            "MLFLOW_TRACKING_URI": self.mlflow_tracking_uri,
            "RAYLINE_ONLINE_STORE_URI": self.online_store_uri,
            "RAYLINE_EXECUTION_ID": self.execution_id,
            "RAYLINE_PIPELINE_NAME": self.pipeline_name,
            "RAYLINE_STEP_NAME": self.step_name,
            "RAYLINE_WORK_DIR": str(self.work_dir),
            **self.storage_env,
        }


@dataclass(frozen=True)
class StepResult:
    """What a runner returns; the scheduler handles every kind's result the same way.

    - ``properties``: what later steps may read (``step.properties[...]``); a value that is not
      JSON is stored by reference.
    - ``outputs``: URIs of outputs the runner put somewhere other than the directory
      ``ctx.outputs`` names; every other declared output is that directory.
    - ``branch``: for a step with ``branches()``, the label of the branch taken (the steps of the
      other branches are skipped); None for a step without branches.
    - ``failure``: the step failed the execution on purpose (``FailStep``): the message becomes
      the step's and the execution's failure reason and no further step starts. A runner that
      cannot do its work raises instead (a retry policy may then run it again).
    - ``summary``: a one-line account of the result for the event log (``Outcome=True``).
    """

    properties: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    branch: str | None = None
    failure: str | None = None
    summary: str | None = None


@dataclass(frozen=True)
class ProcessingContext:
    """Inputs and outputs of the running processing step.

    ``inputs`` maps each ``ProcessingInput`` destination to its local path; ``outputs`` maps each
    ``ProcessingOutput`` name to an empty directory to write into.
    """

    inputs: dict[str, Path]
    outputs: dict[str, Path]
    arguments: list[str]
    execution_id: str | None
    step_name: str | None
    work_dir: Path | None


def processing_context() -> ProcessingContext:
    """The context of the processing step this code runs in (from its environment).

    Outside a pipeline (running a script by hand) the context is empty, so scripts can fall
    back to their own command-line options.
    """
    import sys

    def slots(prefix: str) -> dict[str, Path]:
        names = os.environ.get(f"{prefix}S", "")
        return {n: Path(os.environ[f"{prefix}_{n.upper()}"]) for n in names.split(",") if n}

    step = settings()
    return ProcessingContext(
        inputs=slots("RAYLINE_INPUT"),
        outputs=slots("RAYLINE_OUTPUT"),
        arguments=list(sys.argv[1:]),
        execution_id=step.execution_id,
        step_name=step.step_name,
        work_dir=step.work_dir,
    )
