"""Vectorised schema checks on Arrow tables: cast each column to its feature type, and find
every row that cannot be ingested, with its reason (no per-row Python on the happy path)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from rayline.errors import SchemaError
from rayline.featurestore.definitions import FeatureType
from rayline.featurestore.description import FeatureGroupDescription
from rayline.featurestore.report import RejectedRow

MAX_IDENTIFIER_BYTES = 2048


@dataclass(frozen=True)
class ValidatedBatch:
    """The valid rows (columns in definition order, cast to their types), their event times in
    Unix seconds, their identifiers as strings, and the rejected rows."""

    table: pa.Table
    event_seconds: pa.Array  # float64
    record_ids: pa.Array  # string
    rejected: tuple[RejectedRow, ...]


def check_columns(names: list[str], desc: FeatureGroupDescription) -> None:
    """Raise ``SchemaError`` when the input's columns do not match the group's features."""
    features = desc.feature_names
    unknown = [c for c in names if c not in features]
    if unknown:
        raise SchemaError(
            f"columns {unknown} are not features of feature group {desc.name!r} (features: "
            f"{', '.join(features)}); drop them, or add them with "
            "FeatureGroup.update(feature_additions=[...])"
        )
    missing = [f for f in features if f not in names]
    if missing:
        raise SchemaError(
            f"the input lacks columns {missing} of feature group {desc.name!r}; add them (use "
            "None/NaN for values you do not have)"
        )


def validate(
    table: pa.Table, desc: FeatureGroupDescription, *, row_offset: int = 0
) -> ValidatedBatch:
    """Check and cast ``table`` against ``desc``; rows are numbered from ``row_offset``."""
    check_columns(table.column_names, desc)
    reasons: list[tuple[pa.Array, object]] = []  # (bad mask, reason or per-row reason function)
    columns: dict[str, pa.Array] = {}
    originals: dict[str, pa.Array] = {}
    for definition in desc.feature_definitions:
        name = definition.feature_name
        col = originals[name] = _combine(table.column(name))
        cast, bad, why = _cast(col, definition.feature_type, name)
        columns[name] = cast
        if bad is not None:
            reasons.append((bad, why))

    rid_name, et_name = desc.record_identifier_name, desc.event_time_feature_name
    rid = columns[rid_name]
    rid_str = rid if pa.types.is_string(rid.type) else pc.cast(rid, pa.string())
    reasons.append((pc.is_null(originals[rid_name]), f"missing record identifier {rid_name!r}"))
    lengths = pc.binary_length(rid_str)
    reasons.append((pc.equal(lengths, 0), f"empty record identifier {rid_name!r}"))
    reasons.append(
        (
            pc.greater(lengths, MAX_IDENTIFIER_BYTES),
            f"record identifier {rid_name!r} is longer than {MAX_IDENTIFIER_BYTES} bytes",
        )
    )

    seconds, et_bad, et_why = _event_seconds(columns[et_name], et_name)
    reasons.append((pc.is_null(originals[et_name]), f"missing event time {et_name!r}"))
    if et_bad is not None:
        reasons.append((et_bad, et_why))

    bad_any = _any(reasons)
    if bad_any is None:
        valid = pa.table(columns)
        return ValidatedBatch(valid, seconds, rid_str, ())
    rejected = _rejected_rows(bad_any, reasons, rid_str, row_offset)
    keep = pc.invert(bad_any)
    valid = pa.table(columns).filter(keep)
    return ValidatedBatch(valid, seconds.filter(keep), rid_str.filter(keep), rejected)


def _combine(col) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        return col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    return col


def _any(reasons):
    combined = None
    for mask, _ in reasons:
        mask = pc.fill_null(mask, False)
        if not pc.any(mask).as_py():
            continue
        combined = mask if combined is None else pc.or_(combined, mask)
    return combined


def _rejected_rows(bad_any, reasons, rid_str, row_offset) -> tuple[RejectedRow, ...]:
    idx = pc.indices_nonzero(bad_any).to_pylist()
    masks = [(pc.fill_null(m, False), why) for m, why in reasons]
    ids = rid_str.take(pa.array(idx, pa.int64())).to_pylist()
    out = []
    for pos, i in enumerate(idx):
        why = []
        for mask, reason in masks:
            if mask[i].as_py():
                why.append(reason(i) if callable(reason) else reason)
        out.append(RejectedRow(row_offset + i, ids[pos], "; ".join(why)))
    return tuple(out)


def _cast(col: pa.Array, ftype: FeatureType, name: str):
    """(cast column, bad-row mask or None, reason). Bad values become null in the cast column."""
    target = ftype.arrow_type
    t = col.type
    if pa.types.is_dictionary(t):
        col = col.dictionary_decode()
        t = col.type
    if t == target:
        return col, None, None
    if pa.types.is_null(t):
        return pa.nulls(len(col), target), None, None
    if ftype is FeatureType.STRING:
        try:
            return pc.cast(col, target), None, None
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return _cast_by_value(col, ftype, name)
    if ftype is FeatureType.INTEGRAL and pa.types.is_floating(t):
        # pandas turns int columns with missing values into floats: accept whole numbers.
        finite = pc.is_finite(col)
        whole = pc.and_(finite, pc.equal(pc.floor(col), col))
        in_range = pc.and_(pc.less_equal(pc.abs(col), 9.007199254740992e15), whole)
        bad = pc.and_(pc.is_valid(col), pc.invert(pc.fill_null(in_range, False)))
        cleaned = pc.if_else(bad, pa.scalar(None, t), col)
        return pc.cast(cleaned, target, safe=False), bad, _value_reason(col, name, ftype)
    if pa.types.is_boolean(t):
        bad = pc.is_valid(col)
        return pa.nulls(len(col), target), bad, _value_reason(col, name, ftype)
    try:
        return pc.cast(col, target), None, None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return _cast_by_value(col, ftype, name)


def _cast_by_value(col: pa.Array, ftype: FeatureType, name: str):
    """The slow path, taken only when a column has bad values: cast each distinct value."""
    target = ftype.arrow_type
    uniques = pc.unique(col)
    good_in, good_out, bad_values = [], [], []
    for value in uniques.to_pylist():
        if value is None:
            continue
        converted = _convert_one(value, ftype)
        if converted is _BAD:
            bad_values.append(value)
        else:
            good_in.append(value)
            good_out.append(converted)
    if not bad_values:
        mapping_idx = pc.index_in(col, value_set=pa.array(good_in, col.type))
        return pa.array(good_out, target).take(mapping_idx), None, None
    bad = pc.is_in(col, value_set=pa.array(bad_values, col.type))
    idx = pc.index_in(col, value_set=pa.array(good_in, col.type)) if good_in else None
    cast = pa.array(good_out, target).take(idx) if idx is not None else pa.nulls(len(col), target)
    return cast, bad, _value_reason(col, name, ftype)


_BAD = object()


def _convert_one(value, ftype: FeatureType):
    try:
        if ftype is FeatureType.STRING:
            return str(value)
        if isinstance(value, bool):
            return _BAD
        if ftype is FeatureType.FRACTIONAL:
            return float(value)
        if isinstance(value, float):
            return int(value) if value.is_integer() else _BAD
        if isinstance(value, str):
            value = value.strip()
            try:
                return int(value)
            except ValueError:
                f = float(value)
                return int(f) if f.is_integer() else _BAD
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return _BAD


def _value_reason(col: pa.Array, name: str, ftype: FeatureType):
    def reason(i: int) -> str:
        return f"value {col[i].as_py()!r} of feature {name!r} is not {ftype.value}"

    return reason


def _event_seconds(col: pa.Array, name: str):
    """Event times as float64 Unix seconds, plus a mask of unparsable or out-of-range ones."""
    if pa.types.is_string(col.type):
        try:
            ts = pc.cast(col, pa.timestamp("us", tz="UTC"))
            seconds = pc.divide(pc.cast(pc.cast(ts, pa.int64()), pa.float64()), 1e6)
            return seconds, None, None
        except pa.ArrowInvalid:
            return _parse_iso_by_value(col, name)
    seconds = pc.cast(col, pa.float64())
    ok = pc.and_(pc.is_finite(seconds), pc.greater_equal(seconds, 0.0))
    bad = pc.and_(pc.is_valid(seconds), pc.invert(pc.fill_null(ok, False)))
    if not pc.any(bad).as_py():
        return seconds, None, None

    def reason(i: int) -> str:
        return f"event time {col[i].as_py()!r} of {name!r} is not Unix seconds >= 0"

    return pc.if_else(bad, pa.scalar(None, pa.float64()), seconds), bad, reason


def _parse_iso_by_value(col: pa.Array, name: str):
    good_in, good_out, bad_values = [], [], []
    for value in pc.unique(col).to_pylist():
        if value is None:
            continue
        parsed = parse_event_time(value)
        if parsed is None:
            bad_values.append(value)
        else:
            good_in.append(value)
            good_out.append(parsed)
    idx = pc.index_in(col, value_set=pa.array(good_in, pa.string()))
    seconds = (
        pa.array(good_out, pa.float64()).take(idx) if good_in else pa.nulls(len(col), pa.float64())
    )
    if not bad_values:
        return seconds, None, None
    bad = pc.is_in(col, value_set=pa.array(bad_values, pa.string()))

    def reason(i: int) -> str:
        return (
            f"event time {col[i].as_py()!r} of {name!r} is not ISO-8601 "
            "(e.g. '2024-05-01T12:00:00Z')"
        )

    return seconds, bad, reason


def parse_event_time(value) -> float | None:
    """One event time (Unix seconds, ISO-8601 string or datetime) as Unix seconds, else None.

    ISO-8601 strings without a zone are taken as UTC.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        v = float(value)
        return v if math.isfinite(v) and v >= 0 else None
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value).strip())
        except ValueError:
            return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()
