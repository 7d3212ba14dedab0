"""Ingestion on Ray: a pool of 0.5-CPU actors, each running ``ingest_batch`` on its slices and
holding the validated rows until the driver has committed the offline files; then each actor
writes its rows online."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

import pyarrow as pa
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
        if not isinstance(table, pa.Table):  # a Ray Dataset block may be a pandas frame
            from ray.data.block import BlockAccessor

            table = BlockAccessor.for_block(table).to_arrow()
        result, rows = ingest_batch(self.desc, table, self.options)
        if rows is not None:
            self.held.append((index, rows))
        return replace(result, node=ray.get_runtime_context().get_node_id())

    def write_online(self) -> list[tuple[int, int]]:
        """Write the held rows online: ``(batch index, rows applied)`` per batch."""
        out = [(i, write_online(self.desc, rows, self.options)) for i, rows in self.held]
        self.held = []
        return out


#: Batches sent ahead of the actors, per actor: enough to keep each busy, few enough that the
#: input is not read into the object store faster than it is written out.
_IN_FLIGHT_PER_ACTOR = 2


def _run(
    desc,
    options,
    batches: Iterable,
    workers: int,
    commit: Callable[[list[BatchResult]], None],
) -> list[BatchResult]:
    """Send batch i to actor i mod workers as the batches are read (at most
    ``_IN_FLIGHT_PER_ACTOR`` per actor unfinished), ``commit`` the offline results, then write
    online; results come back in input order. A batch is an Arrow table or an object ref."""
    ensure_ray()
    # On a cluster the writers spread over the nodes (every store they write to is reachable
    # from each); Ray would otherwise pack them on the driver's node.
    worker = IngestWorker.options(scheduling_strategy="SPREAD")
    if "OnlineStore" in options.target_stores and (desc.online_store_uri or "").startswith(
        "sqlite:"
    ):
        # The SQLite file is on this node: keep every writer here.
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = ray.get_runtime_context().get_node_id()
        worker = IngestWorker.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False)
        )
    actors: list = []
    futures: list = []
    unfinished: list = []
    try:
        for i, batch in enumerate(batches):
            if len(actors) < max(1, workers):
                actors.append(worker.remote(desc, options))
            ref = batch if isinstance(batch, ray.ObjectRef) else ray.put(batch)
            del batch
            futures.append(actors[i % len(actors)].ingest.remote(i, ref))
            del ref  # the task holds the batch now; it is freed once ingested
            unfinished.append(futures[-1])
            limit = _IN_FLIGHT_PER_ACTOR * len(actors)
            if len(unfinished) >= limit:
                _done, unfinished = ray.wait(unfinished, num_returns=len(unfinished) - limit + 1)
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
    desc, tables: Iterable, options: BatchOptions, *, workers: int, commit
) -> list[BatchResult]:
    """Ingest Arrow tables (an iterable, read as the actors take them) on ``workers`` actors."""
    return _run(desc, options, tables, workers, commit)


def ingest_dataset(
    desc, dataset, options: BatchOptions, *, workers: int, commit
) -> list[BatchResult]:
    """Ingest a Ray Dataset block by block as its execution streams them (rows are numbered in
    the dataset's block order)."""
    ensure_ray()

    def blocks():
        for bundle in dataset.iter_internal_ref_bundles():
            yield from bundle.block_refs

    return _run(desc, options, blocks(), workers, commit)
