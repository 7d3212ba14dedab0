"""What a step runner receives (``StepContext``) and returns (``StepResult``), and the
``ProcessingContext`` a processing script or function reads its inputs and outputs from."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rayline.config import settings
from rayline.definition.expressions import Resolver

#: A property value that is not JSON is pickled into the work dir and stored as {PICKLED: uri}.
PICKLED = "__pickle__"


def load_stored(value: Any) -> Any:
    """A property value as the step returned it (unpickling what was stored by reference)."""
    if isinstance(value, dict) and set(value) == {PICKLED}:
        import cloudpickle

        from rayline.store.artifacts import to_path

        return cloudpickle.loads(to_path(value[PICKLED]).read_bytes())
    return value


#: What a running step prints, as it prints it (the step run's ``logs`` once it ends).
LIVE_LOG = "step.log"


def step_work_dir(store: Any, execution_id: str, step_name: str) -> Path:
    """Where a step run keeps its outputs (``output/<name>``), code and live log."""
    return store.local_path(store.uri_for("executions", execution_id, step_name))


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
    mlflow_run_id: str | None = None
    resolver: Resolver | None = field(default=None, compare=False)

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
