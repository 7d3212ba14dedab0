"""Ingestion on Ray: a pool of 0.5-CPU actors, each running ``ingest_batch`` on its slices and
holding the validated rows until the driver has committed the offline files; then each actor
writes its rows online."""

from __future__ import annotations

from collections.abc import Callable

import ray

from rayline.featurestore._batch import (
    ONLINE,
    BatchOptions,
    BatchResult,
    ingest_batch,
    write_online,
)
from rayline.featurestore.description import FeatureGroupDescription
from rayline.ray_connection import ensure_ray

WORKER_CPUS = 0.5


@ray.remote(num_cpus=WORKER_CPUS)
class IngestWorker:
    """Holds the group's description; ingests the batches it is sent."""

    def __init__(self, desc: FeatureGroupDescription, options: BatchOptions) -> None:
        self.desc = desc
        self.options = options
        self.held = []

    def ingest(self, index: int, table) -> BatchResult:
        """Validate and write one batch offline in this actor; keep its rows for online."""
        result, rows = ingest_batch(self.desc, table, self.options)
        if rows is not None:
            self.held.append((index, rows))
        return result

    def write_online(self) -> list[tuple[int, int]]:
        """Write the held rows online: ``(batch index, rows applied)`` per batch."""
        out = [(i, write_online(self.desc, rows, self.options)) for i, rows in self.held]
        self.held = []
        return out


def _run(
    desc, options, batches, workers: int, commit: Callable[[list[BatchResult]], None]
) -> list[BatchResult]:
    """Send batch i to actor i mod workers, ``commit`` the offline results, then write online;
    results come back in input order."""
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
        futures = [actors[i % len(actors)].ingest.remote(i, b) for i, b in enumerate(batches)]
        results = ray.get(futures)
        commit(results)
        if ONLINE in options.target_stores:
            for done in ray.get([a.write_online.remote() for a in actors]):
                for i, written in done:
                    results[i] = results[i].with_online(written)
        return results
    finally:
        for actor in actors:
            ray.kill(actor)


def ingest_tables(
    desc, tables, options: BatchOptions, *, workers: int, commit
) -> list[BatchResult]:
    """Ingest in-memory Arrow slices on ``workers`` actors."""
    ensure_ray()
    return _run(desc, options, [ray.put(t) for t in tables], workers, commit)


def ingest_dataset(
    desc, dataset, options: BatchOptions, *, workers: int, commit
) -> list[BatchResult]:
    """Ingest a Ray Dataset block by block (rows are numbered in the dataset's block order)."""
    ensure_ray()
    return _run(desc, options, list(dataset.to_arrow_refs()), workers, commit)
