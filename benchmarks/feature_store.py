"""Feature store benchmark: 1M rows x 10 features through rayline's public API.

Measures offline ingestion (validation + partitioned Parquet), online ingestion into SQLite
(validation + latest-wins upserts), ``get_record`` and ``batch_get_record`` latency in-process,
and a point-in-time join of 1M entity rows against 1M feature rows.

    .venv/bin/python benchmarks/feature_store.py [--rows 1000000]

The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np
import pandas as pd


def make_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    """``rows`` records: an id, an event time over 7 days, and 10 features (4 Fractional,
    4 Integral, 2 String)."""
    rng = np.random.default_rng(seed)
    start = 1_735_689_600.0  # 2025-01-01T00:00:00Z
    df = pd.DataFrame({"record_id": np.arange(rows, dtype=np.int64)})
    df["event_time"] = start + rng.random(rows) * 7 * 86400
    for i in range(4):
        df[f"f{i}"] = rng.normal(size=rows)
    for i in range(4, 8):
        df[f"f{i}"] = rng.integers(0, 1000, size=rows)
    df["f8"] = pd.Series(rng.choice(["red", "green", "blue", "amber"], size=rows), dtype=str)
    df["f9"] = pd.Series(rng.integers(0, 10_000, size=rows).astype(str), dtype=str)
    return df


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=20_000)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="rayline-bench-fs-")
    os.environ["RAYLINE_HOME"] = home
    for var in ("RAYLINE_DB_URL", "RAYLINE_ARTIFACT_URI", "RAYLINE_ONLINE_STORE_URI"):
        os.environ.pop(var, None)

    from rayline.featurestore import FeatureGroup, create_dataset, load_feature_definitions

    rows = args.rows
    df = make_frame(rows)
    definitions = load_feature_definitions(df)
    log = sys.stderr

    offline_fg = FeatureGroup("bench-offline", definitions)
    offline_fg.create(
        record_identifier_name="record_id",
        event_time_feature_name="event_time",
        enable_online_store=False,
    )
    t = time.perf_counter()
    report = offline_fg.ingest(df)
    offline_s = time.perf_counter() - t
    assert report.offline_rows_written == rows and report.ok, report.summary()
    print(report.summary(), file=log)

    online_fg = FeatureGroup("bench-online", definitions)
    online_fg.create(
        record_identifier_name="record_id",
        event_time_feature_name="event_time",
        enable_offline_store=False,
    )
    t = time.perf_counter()
    report = online_fg.ingest(df)
    online_s = time.perf_counter() - t
    assert report.online_rows_written == rows and report.ok, report.summary()
    print(report.summary(), file=log)

    rng = np.random.default_rng(1)
    ids = rng.integers(0, rows, size=args.lookups).tolist()
    get = online_fg.get_record
    for rid in ids[:1000]:  # warm the page cache and the statement cache
        get(rid)
    lat = np.empty(len(ids))
    clock = time.perf_counter
    for i, rid in enumerate(ids):
        t0 = clock()
        rec = get(rid)
        lat[i] = clock() - t0
        if rec is None:
            raise AssertionError(f"record {rid} missing")
    batches = [rng.integers(0, rows, size=100).tolist() for _ in range(2000)]
    blat = np.empty(len(batches))
    for i, batch in enumerate(batches):
        t0 = clock()
        recs = online_fg.batch_get_record(batch)
        blat[i] = clock() - t0
        if any(r is None for r in recs):
            raise AssertionError("batch_get_record missed a record")

    entities = pd.DataFrame(
        {
            "record_id": rng.integers(0, rows, size=rows),
            "event_time": 1_735_689_600.0 + rng.random(rows) * 8 * 86400,
        }
    )
    builder = (
        create_dataset(
            entities,
            record_identifier_feature_name="record_id",
            event_time_identifier_feature_name="event_time",
        )
        .with_feature_group(offline_fg)
        .point_in_time_accurate_join()
    )
    t = time.perf_counter()
    joined = builder.to_dataframe()
    pit_s = time.perf_counter() - t
    assert len(joined) == rows, f"PIT join returned {len(joined)} of {rows} entity rows"
    matched = int(joined["f0"].notna().sum())
    print(f"PIT join: {len(joined)} rows, {matched} with feature values, {pit_s:.2f} s", file=log)

    figures = {
        "rows": rows,
        "offline_ingest_rows_per_s": round(rows / offline_s),
        "online_ingest_rows_per_s": round(rows / online_s),
        "get_record_p50_ms": round(float(np.percentile(lat, 50)) * 1000, 4),
        "get_record_p99_ms": round(float(np.percentile(lat, 99)) * 1000, 4),
        "batch_get_100_p50_ms": round(float(np.percentile(blat, 50)) * 1000, 3),
        "pit_join_1m_s": round(pit_s, 3),
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
