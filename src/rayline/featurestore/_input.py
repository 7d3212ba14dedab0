"""Ingestion input read in bounded batches: CSV and Parquet (a file or a Parquet directory, local
or ``s3://``) are streamed, so ingesting a file larger than memory holds one batch at a time;
a DataFrame or Arrow table is already in memory and is sliced.

Rows keep their input order (files in sorted path order, as ``pyarrow.dataset`` lists them),
which is what the ingestion report numbers rejected rows by.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from rayline.errors import SchemaError, UserInputError
from rayline.featurestore.definitions import FeatureType
from rayline.featurestore.description import FeatureGroupDescription
from rayline.store.artifacts import is_local

#: The CSV reader's block: large enough that parsing runs at full speed, small beside a batch.
_CSV_BLOCK_BYTES = 16 << 20


@dataclass(frozen=True)
class InputSource:
    """An input's column names and a way to read it: ``batches(max_rows)`` yields Arrow tables
    of at most ``max_rows`` rows, in input order, reading as it goes."""

    column_names: tuple[str, ...]
    #: ``max_rows -> batches``; each call reads the input from its start
    read: Callable[[int], Iterator[pa.Table]]
    #: the rows, when known without reading (in-memory inputs, Parquet metadata)
    num_rows: int | None = None

    def batches(self, max_rows: int) -> Iterator[pa.Table]:
        """The input in batches of at most ``max_rows`` rows (at least one, maybe empty)."""
        return self.read(max_rows)


def open_input(data, desc: FeatureGroupDescription) -> InputSource:
    """The ``InputSource`` of a DataFrame, Arrow table, or CSV / Parquet path (local or
    ``s3://``)."""
    if isinstance(data, str) and not is_local(data):
        return _open_uri(data, desc)
    if isinstance(data, str | os.PathLike):
        return _open_path(Path(os.fspath(data)).expanduser(), desc)
    table = _in_memory(data)
    return InputSource(
        column_names=tuple(table.column_names),
        read=lambda max_rows: _slices(table, max_rows),
        num_rows=table.num_rows,
    )


def read_all(data, desc: FeatureGroupDescription) -> pa.Table:
    """The whole input as one Arrow table (for what needs every row at once, such as inferring
    feature definitions)."""
    source = open_input(data, desc)
    parts = list(source.batches(1 << 62))
    return parts[0] if len(parts) == 1 else pa.concat_tables(parts)


def _in_memory(data) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(data, pd.DataFrame):
        try:
            return pa.Table.from_pandas(data, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # Mixed-type object columns: let validation judge each value as a string.
            return pa.Table.from_pandas(
                data.astype(object).astype(str).where(data.notna()), preserve_index=False
            )
    raise UserInputError(
        f"cannot ingest a {type(data).__name__}; pass a pandas DataFrame, a pyarrow Table, a "
        "CSV or Parquet path, or a Ray Dataset"
    )


def _slices(table: pa.Table, max_rows: int) -> Iterator[pa.Table]:
    if table.num_rows == 0:
        yield table
        return
    for start in range(0, table.num_rows, max_rows):
        yield table.slice(start, max_rows)


def _open_path(path: Path, desc: FeatureGroupDescription) -> InputSource:
    if not path.exists():
        raise UserInputError(f"input {path} does not exist")
    if path.is_dir() or path.suffix.lower() in (".parquet", ".pq"):
        return _parquet(str(path), None)
    if _is_csv(path.name):
        return _csv(lambda: str(path), desc, where=str(path))
    raise UserInputError(f"input {path}: use a .csv or .parquet file, or a Parquet directory")


def _open_uri(uri: str, desc: FeatureGroupDescription) -> InputSource:
    import pyarrow.fs as pafs

    from rayline.store.artifacts import filesystem_for

    fs, path = filesystem_for(uri)
    try:
        kind = fs.get_file_info(path).type
    except OSError as exc:
        raise UserInputError(f"cannot read input {uri}: {exc}") from exc
    if kind == pafs.FileType.NotFound:
        raise UserInputError(f"input {uri} does not exist")
    name = path.rsplit("/", 1)[-1]
    if kind == pafs.FileType.Directory or name.lower().endswith((".parquet", ".pq")):
        return _parquet(path, fs)
    if _is_csv(name):
        return _csv(lambda: fs.open_input_stream(path, compression="detect"), desc, where=uri)
    raise UserInputError(f"input {uri}: use a .csv or .parquet file, or a Parquet directory")


def _is_csv(name: str) -> bool:
    return name.lower().endswith((".csv", ".txt", ".csv.gz"))


def _parquet(path: str, fs) -> InputSource:
    """A Parquet file or directory (hive partition columns included, as ``pq.read_table``
    gives them), read file by file, row group by row group."""
    import pyarrow.dataset as ds

    dataset = ds.dataset(path, format="parquet", filesystem=fs, partitioning="hive")
    fragments = list(dataset.get_fragments())
    schema = dataset.schema

    def read(max_rows: int) -> Iterator[pa.Table]:
        return _rebatch(_fragment_batches(fragments, schema, max_rows), schema, max_rows)

    rows = sum(f.metadata.num_rows for f in fragments)
    return InputSource(column_names=tuple(schema.names), read=read, num_rows=rows)


def _fragment_batches(fragments, schema: pa.Schema, max_rows: int) -> Iterator[pa.RecordBatch]:
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    for fragment in fragments:
        keys = ds.get_partition_keys(fragment.partition_expression)
        # Without pre-buffering: the reader's buffer cache keeps every range it pre-read until
        # the file is closed, so a file's whole data would stay in memory (measured: +300 MB
        # peak for a 220 MB file read in 100k-row batches, +64 MB without).
        source = fragment.filesystem.open_input_file(fragment.path)
        with pq.ParquetFile(source, pre_buffer=False) as reader:
            for batch in reader.iter_batches(batch_size=min(max_rows, 1 << 20)):
                for name, value in keys.items():
                    column = pa.array([value] * batch.num_rows, schema.field(name).type)
                    batch = batch.append_column(schema.field(name), column)
                if keys:
                    batch = batch.select(schema.names)
                if batch.schema != schema:  # files of one directory may differ in type
                    batch = batch.cast(schema)
                yield batch


def _csv(open_source, desc: FeatureGroupDescription, *, where: str) -> InputSource:
    """A CSV (``open_source()`` gives a path or a fresh stream for each read). Column types are
    inferred from the first block and kept for the rest, as Arrow's readers do. A malformed
    file (empty, header only, a ragged row, an unterminated quote, bytes that are not UTF-8) is
    a ``UserInputError`` naming the file and the line."""
    import pyarrow.csv as pcsv

    # String features keep their text ("007" stays "007"); numbers are inferred and checked.
    types = {
        f.feature_name: pa.string()
        for f in desc.feature_definitions
        if f.feature_type is FeatureType.STRING
    }
    read_options = pcsv.ReadOptions(block_size=_CSV_BLOCK_BYTES)

    def open_reader(column_types):
        try:
            return pcsv.open_csv(
                open_source(),
                read_options=read_options,
                convert_options=pcsv.ConvertOptions(column_types=column_types),
            )
        except pa.ArrowInvalid as exc:
            raise _csv_error(exc, open_source, where) from None

    first = open_reader(types)
    schema = first.schema
    names = _column_names(schema, where)
    first.close()
    # Arrow infers ISO-8601 text as timestamps; event times must keep their text. It infers
    # a column with bytes that are not UTF-8 as binary: read as text, they fail with their line.
    as_text = [
        f.name for f in schema if pa.types.is_timestamp(f.type) or pa.types.is_binary(f.type)
    ]
    if as_text:
        types.update(dict.fromkeys(as_text, pa.string()))

    def read(max_rows: int) -> Iterator[pa.Table]:
        reader = open_reader(types)
        try:
            yield from _rebatch(_checked(reader, open_source, where), reader.schema, max_rows)
        finally:
            reader.close()

    return InputSource(column_names=names, read=read)


def _column_names(schema: pa.Schema, where: str) -> tuple[str, ...]:
    """The CSV's column names (``UserInputError`` when its header is not UTF-8 text: Arrow
    reads the names as bytes and fails only when asked for them as text)."""
    try:
        return tuple(schema.names)
    except UnicodeDecodeError:
        raise UserInputError(
            f"CSV {where}, line 1: the header has bytes that are not UTF-8 text; save the file "
            "as UTF-8"
        ) from None


def _checked(reader, open_source, where: str) -> Iterator[pa.RecordBatch]:
    rows = 0
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except pa.ArrowInvalid as exc:
            raise _csv_error(exc, open_source, where) from None
        rows += batch.num_rows
        yield batch
    if not rows:
        raise UserInputError(
            f"CSV {where} has a header but no rows; add one line per record below the header"
        )


def _csv_error(exc: pa.ArrowInvalid, open_source, where: str) -> UserInputError:
    """The error of a CSV Arrow could not read, with the line at fault where it has one (found
    by reading the file again: this is the failure path only)."""
    message = str(exc)
    if "Empty CSV file" in message:
        return UserInputError(
            f"CSV {where} is empty; it needs a header line naming the features, then one line "
            "per record"
        )
    if "CSV parse error" in message:
        row = _invalid_row(open_source)
        if row is not None:
            at = f", line {row.number}" if row.number is not None else ""
            quote = (
                " (an unterminated quote starts there: a '\"' without its closing '\"')"
                if row.text.count('"') % 2
                else ""
            )
            return UserInputError(
                f"CSV {where}{at}: {row.actual_columns} fields where the header has "
                f"{row.expected_columns}{quote}; fix the line (quote values that hold a comma)"
            )
        return UserInputError(f"cannot read CSV {where}: {message}")
    if "invalid UTF8" in message:
        line = _first_non_utf8_line(open_source)
        at = f", line {line}" if line is not None else ""
        return UserInputError(
            f"CSV {where}{at}: bytes that are not UTF-8 text; save the file as UTF-8"
        )
    return SchemaError(
        f"cannot read CSV {where}: {message} (a column's type is inferred from the file's "
        "first rows; quote the values or declare the feature as String)"
    )


def _invalid_row(open_source):
    """Arrow's ``InvalidRow`` (with its line number) of the first row whose fields do not match
    the header, else None. Only a serial reader numbers the rows, and only the lines it reads:
    empty lines are read too (and skipped here) so that the number is the file's line."""
    import pyarrow.csv as pcsv

    found = []

    def handler(row):
        if not row.text.strip():
            return "skip"
        found.append(row)
        return "error"

    try:
        reader = pcsv.open_csv(
            open_source(),
            read_options=pcsv.ReadOptions(block_size=_CSV_BLOCK_BYTES, use_threads=False),
            parse_options=pcsv.ParseOptions(invalid_row_handler=handler, ignore_empty_lines=False),
            # Every column as text: only the rows' shape matters here.
            convert_options=pcsv.ConvertOptions(check_utf8=False),
        )
        for _ in reader:
            pass
    except pa.ArrowInvalid:
        pass
    return found[0] if found else None


def _first_non_utf8_line(open_source) -> int | None:
    """The line of the first bytes that are not UTF-8, else None."""
    import codecs

    source = open_source()
    stream = open(source, "rb") if isinstance(source, str) else source  # noqa: SIM115
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with stream:
        while chunk := stream.read(1 << 20):
            pending = len(decoder.getstate()[0])  # a character's first bytes, never a newline
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return line + chunk.count(b"\n", 0, max(exc.start - pending, 0))
            line += chunk.count(b"\n")
    return None


def _rebatch(
    batches: Iterator[pa.RecordBatch], schema: pa.Schema, max_rows: int
) -> Iterator[pa.Table]:
    """Tables of ``max_rows`` rows (the last one shorter) from record batches of any size."""
    pending: list[pa.RecordBatch] = []
    held = 0
    emitted = False
    for batch in batches:
        while batch.num_rows:
            take = min(batch.num_rows, max_rows - held)
            pending.append(batch.slice(0, take))
            held += take
            batch = batch.slice(take)
            if held == max_rows:
                yield pa.Table.from_batches(pending, schema)
                emitted = True
                pending, held = [], 0
    if pending or not emitted:
        yield pa.Table.from_batches(pending, schema)
