"""``Pipeline``: a pipeline definition you can store (``upsert``) and run (``start``).

Importing this module (``from rayline import Pipeline``) loads only the definition layer: the
metadata DB, the artifact store and Ray are imported by the methods that use them, so defining
a pipeline stays cheap and pure.
"""

from __future__ import annotations

import uuid
from typing import Any

from rayline.definition.parameters import resolve_parameters
from rayline.definition.pipeline import PipelineDefinition
from rayline.engine.records import PipelineRecord
from rayline.errors import PipelineDefinitionError
from rayline.executions import Execution, launch


class Pipeline(PipelineDefinition):
    """A pipeline: parameters and steps, stored in the metadata DB and run on Ray.

    >>> pipeline = Pipeline("housing", parameters=[threshold], steps=[ingest, prep, check])
    >>> pipeline.upsert()
    >>> execution = pipeline.start(parameters={"RMSEThreshold": 20000.0})
    >>> execution.wait()
    """

    def upsert(self, *, db_url: str | None = None) -> int:
        """Store the code snapshots and the definition; returns the pipeline version (a new
        version only when the definition changed)."""
        from rayline.engine.repository import open_repository
        from rayline.store.artifacts import open_artifact_store

        store = open_artifact_store()
        for step in self.graph.steps.values():
            ref = step.code_ref()
            for content, suffix in step.code_snapshots():
                if suffix == ".pkl":
                    # Pickles of one function can differ between pickling runs; the runner
                    # loads the one named by the hash in the definition.
                    store.put_once(content, "code", f"{ref.sha256}.pkl")
                    continue
                digest, _ = store.put_content(content, kind="code", suffix=suffix)
                if digest != ref.sha256:
                    raise PipelineDefinitionError(
                        f"step {step.name!r}: script {ref.path} changed after the step was "
                        "defined; build the pipeline again"
                    )
        return open_repository(db_url).upsert_pipeline(
            self.name, self.definition(), self.description
        )

    def start(
        self,
        parameters: dict[str, Any] | None = None,
        *,
        detach: bool = False,
        db_url: str | None = None,
    ) -> Execution:
        """Start an execution (after an implicit ``upsert``) and return its handle at once.

        The steps run on Ray, driven by a thread of this process, or by a detached process
        with ``detach=True`` (the execution then outlives this one). ``parameters`` override
        the defaults; unknown, missing or mistyped ones raise ``ParameterError`` here.
        """
        from rayline.engine.repository import open_repository

        values = resolve_parameters(list(self.parameters), parameters)
        version = self.upsert(db_url=db_url)
        repo = open_repository(db_url)
        execution_id = uuid.uuid4().hex[:16]
        max_parallel = (
            self.parallelism_config.max_parallel_execution_steps
            if self.parallelism_config
            else None
        )
        repo.create_execution(
            execution_id, self.name, version, values, max_parallel_steps=max_parallel
        )
        launch(execution_id, db_url=repo.db.url, detach=detach)
        return Execution(execution_id, db_url=repo.db.url)

    def describe(self) -> PipelineRecord:
        """The stored pipeline's record: description, latest version, when created and updated.
        Raises ``NotFoundError`` when it was never upserted."""
        from rayline.engine.repository import open_repository

        return open_repository().get_pipeline(self.name)

    def list_executions(self, *, limit: int = 50) -> list[Execution]:
        """Handles on the pipeline's latest executions, newest first."""
        from rayline.engine.repository import open_repository

        records = open_repository().list_executions(self.name, limit=limit)
        return [Execution(r.id) for r in records]

    def delete(self) -> None:
        """Delete the stored pipeline with its versions and executions (see
        ``delete_pipeline``)."""
        delete_pipeline(self.name)

    @classmethod
    def load(cls, name: str, *, version: int | None = None) -> Pipeline:
        """The stored pipeline ``name`` (its latest version unless ``version`` is given)."""
        from rayline.engine.repository import open_repository

        _, definition = open_repository().get_definition(name, version)
        return cls.from_definition(definition, name=name)


def list_pipelines() -> list[PipelineRecord]:
    """Every stored pipeline, by name."""
    from rayline.engine.repository import open_repository

    return open_repository().list_pipelines()


def delete_pipeline(name: str) -> None:
    """Delete a pipeline with its versions and executions (its artifacts stay). Raises
    ``ConflictError`` while one of its executions runs."""
    from rayline.engine.repository import open_repository

    open_repository().delete_pipeline(name)
