"""Reading tabular step inputs (Parquet files, directories of Parquet, CSV) as Arrow tables.

Training reads Arrow straight into XGBoost: going through Ray Dataset shards cost 30-40k rows/s
on these machines (DESIGN §5), while Parquet → Arrow → DMatrix runs at millions of rows/s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from rayline.errors import NotFoundError, SchemaError
from rayline.ml.sources import local_copy

_DATA_SUFFIXES = (".parquet", ".pq", ".csv")


def data_files(source: str | Path) -> list[Path]:
    """The data files behind ``source`` (a file, or a directory searched recursively), sorted.

    Hidden files and names starting with ``_`` (``_SUCCESS``, ``_schema.json``) are skipped.
    An ``s3://`` source is copied to local scratch once per process (XGBoost reads whole files,
    and a reused Tune actor reads the same splits trial after trial).
    """
    path = local_copy(source, cached=True)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise NotFoundError(f"input {source} does not exist; check the step's input URI")
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and p.suffix.lower() in _DATA_SUFFIXES
        and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)
    )
    if not files:
        raise NotFoundError(
            f"input {source} holds no .parquet or .csv files; point it at a preprocessing output"
        )
    return files


def read_table(source: str | Path | list[Path], *, columns: list[str] | None = None) -> pa.Table:
    """Read Parquet or CSV files (one file, a directory, or a list of files) into one table."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    files = source if isinstance(source, list) else data_files(source)
    tables = []
    for f in files:
        if f.suffix.lower() == ".csv":
            t = pacsv.read_csv(f)
            if columns is not None:
                t = t.select(columns)
        else:
            t = pq.read_table(f, columns=columns)
        tables.append(t)
    if not tables:
        raise NotFoundError("no data files to read")
    return pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]


def split_label(table: pa.Table, label: str) -> tuple[pa.Table, np.ndarray]:
    """``(features, label values)``; raises SchemaError when the label column is missing."""
    if label not in table.column_names:
        raise SchemaError(
            f"label column {label!r} is not in the data "
            f"(columns: {', '.join(table.column_names)}); set the trainer's label= to one of them"
        )
    y = table.column(label).to_numpy().astype(np.float64, copy=False)
    return table.drop_columns([label]), y


def shard_files(files: list[Path], rank: int, world: int) -> tuple[list[tuple[Path, int]], bool]:
    """Row groups ``(file, row_group)`` for worker ``rank`` of ``world``, round-robin.

    Returns ``(pieces, sliced)``: when there are fewer row groups than workers, every worker gets
    all of them and ``sliced`` is True (the caller then slices rows by rank).
    """
    import pyarrow.parquet as pq

    pieces = [(f, rg) for f in files for rg in range(pq.ParquetFile(f).metadata.num_row_groups)]
    if len(pieces) < world:
        return pieces, True
    return pieces[rank::world], False


def read_shard(files: list[Path], rank: int, world: int) -> pa.Table:
    """This worker's share of Parquet ``files``: whole row groups where possible, else rows."""
    import pyarrow.parquet as pq

    if any(f.suffix.lower() == ".csv" for f in files):
        table = read_table(files)
        return _slice(table, rank, world)
    pieces, sliced = shard_files(files, rank, world)
    by_file: dict[Path, list[int]] = {}
    for f, rg in pieces:
        by_file.setdefault(f, []).append(rg)
    tables = [pq.ParquetFile(f).read_row_groups(rgs) for f, rgs in by_file.items()]
    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    return _slice(table, rank, world) if sliced else table


def _slice(table: pa.Table, rank: int, world: int) -> pa.Table:
    n = table.num_rows
    start, stop = n * rank // world, n * (rank + 1) // world
    return table.slice(start, stop - start)
