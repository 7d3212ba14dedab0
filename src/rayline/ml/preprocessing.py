"""Preprocessing: feature-store data → shuffled, split, standard-scaled Parquet.

Large inputs go through Ray Data (streamed, in parallel over the cluster); small ones, up to
:data:`LOCAL_MAX_ROWS` rows, in this process with pyarrow, where Ray Data's fixed cost (seconds
of planning and task launches) would be most of the time. ``distributed=True``/``False``
forces a path; the result records which ran, and why. Each path is deterministic, but they
shuffle differently: the same input gives other splits on the other path.

The scaler is fitted on the training split only (never on the label) and applied to all three
splits; it is saved as ``preprocessor.json`` so endpoints can take raw features. Splits are
written with a fixed column order (the features in source order, then the label) and
deterministic file names, so an unchanged input yields byte-identical outputs and downstream
steps stay cached.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rayline.errors import SchemaError, UserInputError
from rayline.ml.preprocessor import Preprocessor, fit_standard_scaler
from rayline.store.artifacts import filesystem_for
from rayline.store.locations import is_remote, kind, upload

#: Columns the feature store adds (its own bookkeeping, and the hive partition directories).
STORE_COLUMNS = (
    "write_time",
    "api_invocation_time",
    "is_deleted",
    "year",
    "month",
    "day",
    "hour",
)


@dataclass(frozen=True)
class PreprocessingResult:
    """Where the splits went and what was fitted."""

    outputs: dict[str, Path | str]  # a local path, or the s3:// URI an output went to
    rows: dict[str, int]
    preprocessor: Preprocessor
    columns: tuple[str, ...] = field(default=())
    distributed: bool = True  # Ray Data (True) or in this process (False)
    reason: str = ""


#: Inputs up to this many rows are preprocessed in-process unless ``distributed=True``.
LOCAL_MAX_ROWS = 1_000_000


@dataclass(frozen=True)
class FeatureGroupSource:
    """A feature group to preprocess: by default its latest non-deleted record per identifier
    (a re-ingested record lands in one split only); ``history=True`` keeps every stored
    version. Either way only committed ingestions are read, each row once."""

    name: str
    history: bool = False
    db_url: str | None = None

    def __str__(self) -> str:
        return f"feature group {self.name!r}"


def feature_group_source(
    name: str, *, history: bool = False, db_url: str | None = None
) -> tuple[FeatureGroupSource, tuple[str, ...]]:
    """What ``preprocess`` reads for feature group ``name`` and the columns to drop (its record
    id and event time features)."""
    from rayline.featurestore import FeatureGroup

    desc = FeatureGroup(name, db_url=db_url).description
    source = FeatureGroupSource(name, history=history, db_url=db_url)
    return source, (desc.record_identifier_name, desc.event_time_feature_name)


def preprocess(
    source: str | Path | FeatureGroupSource,
    *,
    label: str,
    output_dirs: dict[str, str | Path],
    train_size: float = 0.6,
    validation_size: float = 0.2,
    test_size: float = 0.2,
    seed: int = 42,
    drop_columns: tuple[str, ...] = ("record_id", "event_time"),
    distributed: bool | None = None,
) -> PreprocessingResult:
    """Read ``source``, shuffle, split, scale, and write the splits.

    ``source`` is Parquet (a path or ``s3://`` URI) or a feature group (``feature_group_source``).
    ``output_dirs`` names a directory for each of ``train``, ``validation``, ``test`` and
    ``preprocessor``. Rows marked ``is_deleted`` in a feature store are left out.
    ``distributed``: True runs Ray Data, False this process, None (the default) chooses by the
    input's size (see :data:`LOCAL_MAX_ROWS`).

    >>> preprocess(fg.offline_store_uri, label="PRICE", output_dirs={"train": "out/train", ...})
    """
    import ray.data

    from rayline.ray_connection import ensure_ray

    needed = {"train", "validation", "test", "preprocessor"}
    if set(output_dirs) != needed:
        raise UserInputError(
            f"preprocess needs output_dirs for exactly {sorted(needed)}; got {sorted(output_dirs)}"
        )
    sizes = (float(train_size), float(validation_size), float(test_size))
    if any(s <= 0 for s in sizes) or not math.isclose(sum(sizes), 1.0, abs_tol=1e-6):
        raise UserInputError(
            f"train/validation/test sizes {sizes} must be positive and sum to 1 "
            "(e.g. 0.6, 0.2, 0.2)"
        )
    # A feature group's rows are read into memory either way: once, for whichever path runs.
    group = _group_table(source) if isinstance(source, FeatureGroupSource) else None
    if distributed is not True:
        limit = None if distributed is False else LOCAL_MAX_ROWS
        table, rows = _small_input(source, group, limit=limit)
        if table is not None:
            reason = (
                "distributed=False: in this process"
                if distributed is False
                else f"{rows} rows <= {LOCAL_MAX_ROWS}: in this process"
            )
            print(f"preprocessing path: {reason}", flush=True)
            return _preprocess_local(
                table, source, label, output_dirs, sizes, seed, drop_columns, reason=reason
            )
        reason = f"{rows} rows > {LOCAL_MAX_ROWS}: Ray Data"
    else:
        reason = "distributed=True: Ray Data"
    print(f"preprocessing path: {reason}", flush=True)
    ensure_ray()
    # Same input, same bytes out (downstream cache keys hash them): blocks must keep their order,
    # or the shuffle's output order and the scaler's floating-point sums vary between runs.
    context = ray.data.DataContext.get_current()
    saved_order = context.execution_options.preserve_order
    context.execution_options.preserve_order = True
    try:
        result = _preprocess(source, group, label, output_dirs, sizes, seed, drop_columns)
        return replace(result, reason=reason)
    finally:
        context.execution_options.preserve_order = saved_order


def _preprocess(
    source: str | Path | FeatureGroupSource,
    group: Any,
    label: str,
    output_dirs: dict[str, str | Path],
    sizes: tuple[float, float, float],
    seed: int,
    drop_columns: tuple[str, ...],
) -> PreprocessingResult:
    from ray.data.preprocessors import StandardScaler

    ds = _group_dataset(group) if group is not None else _read_parquet(source)
    schema_names = list(ds.schema().names)
    _check_label(label, schema_names, source)
    if "is_deleted" in schema_names:
        from ray.data.expressions import col

        # A column expression runs vectorised on Arrow (a Python lambda would go row by row).
        ds = ds.filter(expr=col("is_deleted") == False)  # noqa: E712
    features, columns = _columns(schema_names, label, drop_columns)
    ds = ds.select_columns(columns).random_shuffle(seed=seed).materialize()
    train, validation, test = ds.split_proportionately(list(sizes[:2]))

    # Fit on the training split only: validation and test stay unseen, as they will be at
    # serving time.
    scaler = StandardScaler(columns=features).fit(train)
    preprocessor = fit_standard_scaler(scaler.stats_, features, label=label)

    rows = {}
    with _local_outputs(output_dirs) as outputs:
        for name, split in (("train", train), ("validation", validation), ("test", test)):
            rows[name] = _write_split(split, preprocessor, outputs[name])
        preprocessor.save(outputs["preprocessor"])
    return PreprocessingResult(
        outputs={n: _as_result(d) for n, d in output_dirs.items()},
        rows=rows,
        preprocessor=preprocessor,
        columns=tuple(columns),
    )


def _small_input(
    source: str | Path | FeatureGroupSource, group: Any, *, limit: int | None
) -> tuple[Any, int]:
    """``source`` (``group``: a feature group's rows, already read) as one pyarrow Table when it
    has at most ``limit`` rows (None: any size), else ``(None, rows)``; counting a Parquet input
    reads only its footers."""
    import pyarrow.dataset as pads

    if group is not None:
        return (group if limit is None or group.num_rows <= limit else None), group.num_rows
    _check_exists(source)
    filesystem, path = filesystem_for(source)
    dataset = pads.dataset(path, filesystem=filesystem, format="parquet", partitioning="hive")
    rows = dataset.count_rows()
    if limit is not None and rows > limit:
        return None, rows
    return dataset.to_table(), rows


def _preprocess_local(
    table: Any,
    source: str | Path | FeatureGroupSource,
    label: str,
    output_dirs: dict[str, str | Path],
    sizes: tuple[float, float, float],
    seed: int,
    drop_columns: tuple[str, ...],
    *,
    reason: str,
) -> PreprocessingResult:
    """``_preprocess`` on an in-memory table: the same columns, split sizes (Ray Data's
    ``split_proportionately`` arithmetic), scaler (population standard deviation, nulls
    skipped) and file layout."""
    import numpy as np
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    names = list(table.column_names)
    _check_label(label, names, source)
    if "is_deleted" in names:
        table = table.filter(pc.invert(pc.fill_null(table["is_deleted"], False)))
    features, columns = _columns(names, label, drop_columns)
    table = table.select(columns)
    n = table.num_rows
    cuts = _split_indices(n, sizes)
    table = table.take(np.random.default_rng(seed).permutation(n))
    bounds = [0, *cuts, n]
    splits = {
        name: table.slice(bounds[i], bounds[i + 1] - bounds[i])
        for i, name in enumerate(("train", "validation", "test"))
    }
    train = splits["train"]
    stats = {}
    for c in features:
        values = pc.cast(train[c], "float64")
        stats[f"mean({c})"] = pc.mean(values).as_py()
        stats[f"std({c})"] = pc.stddev(values, ddof=0).as_py()
    preprocessor = fit_standard_scaler(stats, features, label=label)
    rows = {}
    with _local_outputs(output_dirs) as outputs:
        for name, split in splits.items():
            directory = outputs[name]
            directory.mkdir(parents=True, exist_ok=True)
            pq.write_table(preprocessor.transform_arrow(split), directory / "part-00000.parquet")
            rows[name] = split.num_rows
        preprocessor.save(outputs["preprocessor"])
    return PreprocessingResult(
        outputs={n: _as_result(d) for n, d in output_dirs.items()},
        rows=rows,
        preprocessor=preprocessor,
        columns=tuple(columns),
        distributed=False,
        reason=reason,
    )


def _columns(
    names: list[str], label: str, drop_columns: tuple[str, ...]
) -> tuple[list[str], list[str]]:
    """The features (source order, without the store's columns and ``drop_columns``) and the
    output columns: the features, then the label."""
    dropped = set(STORE_COLUMNS) | set(drop_columns)
    features = [c for c in names if c not in dropped and c != label]
    return features, [*features, label]


def _check_label(label: str, names: list[str], source: object) -> None:
    if label not in names:
        raise SchemaError(
            f"label column {label!r} is not in {source} (columns: {', '.join(names)})"
        )


def _split_indices(n: int, sizes: tuple[float, float, float]) -> list[int]:
    """Where the validation and test splits start: Ray Data's ``split_proportionately``
    arithmetic (every split keeps at least one row)."""
    import numpy as np

    cuts = [int(n * p) for p in np.cumsum(sizes[:2])] + [n]
    subtract = 0
    for i in range(len(cuts) - 2, -1, -1):
        cuts[i] -= subtract
        if cuts[i] == cuts[i + 1]:
            subtract += 1
            cuts[i] -= 1
    if any(c <= 0 for c in cuts):
        raise UserInputError(
            f"{n} rows are too few to split into train, validation and test ({sizes})"
        )
    return cuts[:2]


def _check_exists(source: str | Path) -> None:
    _filesystem, path = filesystem_for(source)
    exists = kind(str(source)) != "missing" if is_remote(source) else Path(path).exists()
    if not exists:
        raise UserInputError(f"preprocessing input {source} does not exist")


def _read_parquet(source: str | Path) -> Any:
    import ray.data

    # The offline store may be local or in S3: Ray Data streams it through the pyarrow
    # filesystem of the one S3 configuration (it travels to Ray's read tasks pickled).
    _check_exists(source)
    filesystem, path = filesystem_for(source)
    return ray.data.read_parquet(path, filesystem=filesystem)


#: Rows per block handed to Ray Data from a feature group (the shuffle and the scaler's fit
#: run per block, in parallel).
_GROUP_BLOCK_ROWS = 100_000


def _group_dataset(table: Any) -> Any:
    """A feature group's rows (``_group_table``) as a Ray Dataset of fixed-size blocks, so the
    same store gives the same blocks."""
    import ray.data

    blocks = [
        table.slice(start, _GROUP_BLOCK_ROWS)
        for start in range(0, table.num_rows, _GROUP_BLOCK_ROWS)
    ]
    return ray.data.from_arrow(blocks)


def _group_table(source: FeatureGroupSource) -> Any:
    """The group's rows as one pyarrow Table: one DuckDB query over the committed offline files
    (the latest non-deleted record per identifier, or every version with ``history``), sorted by
    identifier and event time."""
    from rayline.featurestore import FeatureGroup, create_dataset

    group = FeatureGroup(source.name, db_url=source.db_url)
    desc = group.description
    builder = create_dataset(group, db_url=source.db_url)
    if not source.history:
        builder = builder.latest_records_only()
    table = builder.to_arrow().sort_by(
        [(desc.record_identifier_name, "ascending"), (desc.event_time_feature_name, "ascending")]
    )
    if table.num_rows == 0:
        raise UserInputError(f"feature group {source.name!r} has no records to preprocess")
    return table


def _as_result(directory: str | Path) -> Any:
    from rayline.store.artifacts import to_path

    return str(directory) if is_remote(directory) else to_path(str(directory))


@contextmanager
def _local_outputs(output_dirs: dict[str, str | Path]) -> Iterator[dict[str, Path]]:
    """Local directories to write each output into: the directory itself when it is local;
    for an ``s3://`` output, a scratch directory uploaded when all writing succeeded."""
    from rayline.store.artifacts import to_path

    with tempfile.TemporaryDirectory(prefix="rayline-preprocess-") as scratch:
        local = {
            name: Path(scratch) / name if is_remote(d) else to_path(str(d))
            for name, d in output_dirs.items()
        }
        yield local
        for name, d in output_dirs.items():
            if is_remote(d):
                upload(local[name], str(d))


def _write_split(split: Any, preprocessor: Preprocessor, directory: Path) -> int:
    """Scale and write one split as ``part-00000.parquet``, ... in block order."""
    import pyarrow.parquet as pq
    import ray

    directory.mkdir(parents=True, exist_ok=True)
    total = 0
    index = 0
    for ref in split.to_arrow_refs():
        table = ray.get(ref)
        if table.num_rows == 0:
            continue
        pq.write_table(preprocessor.transform_arrow(table), directory / f"part-{index:05d}.parquet")
        total += table.num_rows
        index += 1
    return total
