"""Ingestion on Ray: a pool of 0.5-CPU actors, each running ``ingest_batch`` on its slices."""

from __future__ import annotations

import ray

from rayline.featurestore._batch import BatchOptions, BatchResult, ingest_batch
from rayline.featurestore.description import FeatureGroupDescription
from rayline.ray_connection import ensure_ray

WORKER_CPUS = 0.5


@ray.remote(num_cpus=WORKER_CPUS)
class IngestWorker:
    """Holds the group's description; ingests the batches it is sent."""

    def __init__(self, desc: FeatureGroupDescription, options: BatchOptions) -> None:
        self.desc = desc
        self.options = options

    def ingest(self, table) -> BatchResult:
        """Validate and write one batch in this actor."""
        return ingest_batch(self.desc, table, self.options)


def _run(desc, options, batches, workers: int) -> list[BatchResult]:
    """Send batch i to actor i mod workers; results come back in input order."""
    ensure_ray()
    worker = IngestWorker
    if "OnlineStore" in options.target_stores and (desc.online_store_uri or "").startswith(
        "sqlite:"
    ):
        # The SQLite file is on this node: keep every writer here.
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = ray.get_runtime_context().get_node_id()
        worker = IngestWorker.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False)
        )
    actors = [worker.remote(desc, options) for _ in range(max(1, min(workers, len(batches))))]
    try:
        futures = [actors[i % len(actors)].ingest.remote(b) for i, b in enumerate(batches)]
        return ray.get(futures)
    finally:
        for actor in actors:
            ray.kill(actor)


def ingest_tables(desc, tables, options: BatchOptions, *, workers: int) -> list[BatchResult]:
    """Ingest in-memory Arrow slices on ``workers`` actors."""
    ensure_ray()
    return _run(desc, options, [ray.put(t) for t in tables], workers)


def ingest_dataset(desc, dataset, options: BatchOptions, *, workers: int) -> list[BatchResult]:
    """Ingest a Ray Dataset block by block (rows are numbered in the dataset's block order)."""
    ensure_ray()
    return _run(desc, options, list(dataset.to_arrow_refs()), workers)
