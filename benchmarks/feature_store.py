"""Feature store benchmark: N rows x 10 features through rayline's public API.

Measures offline ingestion (validation + partitioned Parquet, streamed from a Parquet file),
online ingestion into SQLite (validation + latest-wins upserts, at most ``--online-rows`` rows),
``get_record`` and ``batch_get_record`` latency in-process, and a point-in-time join of
``--join-rows`` entity rows against the N feature rows, written to Parquet: in the entity rows'
order (``pit_join_s``, the default) and with ``keep_order=False`` (``pit_join_unordered_s``).

    .venv/bin/python benchmarks/feature_store.py [--rows 1000000] [--join-rows N]

The inputs are generated to Parquet files first (not measured). Each ingestion and the join
then run in a child process that does only that operation; ``*_peak_rss_mb`` is the peak
resident memory of that child's process tree (sampled from /proc every 20 ms, and at least the
child's own ``ru_maxrss``). The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

START = 1_735_689_600.0  # 2025-01-01T00:00:00Z
_CHUNK = 1_000_000  # rows generated at once (bounds the benchmark's own memory)


def make_frame(rows: int, seed: int = 0, *, first_id: int = 0) -> pd.DataFrame:
    """``rows`` records: an id, an event time over 7 days, and 10 features (4 Fractional,
    4 Integral, 2 String)."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"record_id": np.arange(first_id, first_id + rows, dtype=np.int64)})
    df["event_time"] = START + rng.random(rows) * 7 * 86400
    for i in range(4):
        df[f"f{i}"] = rng.normal(size=rows)
    for i in range(4, 8):
        df[f"f{i}"] = rng.integers(0, 1000, size=rows)
    df["f8"] = pd.Series(rng.choice(["red", "green", "blue", "amber"], size=rows), dtype=str)
    df["f9"] = pd.Series(rng.integers(0, 10_000, size=rows).astype(str), dtype=str)
    return df


def write_features(path: Path, rows: int) -> None:
    """``make_frame`` rows, generated and written a chunk at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    try:
        for i, start in enumerate(range(0, rows, _CHUNK)):
            n = min(_CHUNK, rows - start)
            table = pa.Table.from_pandas(make_frame(n, i, first_id=start), preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


def write_entities(path: Path, rows: int, id_range: int) -> None:
    """``rows`` entity rows: a record id among the features' and an event time over 8 days."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(1)
    table = pa.table(
        {
            "record_id": rng.integers(0, id_range, size=rows),
            "event_time": START + rng.random(rows) * 8 * 86400,
        }
    )
    pq.write_table(table, path)


# -- the measured operations, each run in a child process -------------------------------------


def child(op: str, group: str, data: str) -> dict:
    """Run one operation in this (child) process; its timing as a dict."""
    from rayline.featurestore import FeatureGroup, create_dataset, load_feature_definitions

    if op in ("ingest-offline", "ingest-online"):
        import pyarrow.parquet as pq

        definitions = load_feature_definitions(pq.read_schema(data).empty_table())
        fg = FeatureGroup(group, definitions)
        fg.create(
            record_identifier_name="record_id",
            event_time_feature_name="event_time",
            enable_online_store=op == "ingest-online",
            enable_offline_store=op == "ingest-offline",
        )
        t = time.perf_counter()
        report = fg.ingest(data)
        seconds = time.perf_counter() - t
        assert report.ok, report.summary()
        print(report.summary(), file=sys.stderr)
        written = report.online_rows_written or report.offline_rows_written
        return {"seconds": seconds, "rows": written}
    if op in ("join", "join-unordered"):
        import pyarrow.parquet as pq

        entities = pq.read_table(data)
        builder = (
            create_dataset(
                entities,
                record_identifier_feature_name="record_id",
                event_time_identifier_feature_name="event_time",
            )
            .with_feature_group(FeatureGroup(group))
            .point_in_time_accurate_join()
        )
        out = Path(data).with_name("joined.parquet")
        t = time.perf_counter()
        rows = builder.to_parquet(out, keep_order=op == "join")
        seconds = time.perf_counter() - t
        matched = len(entities) - pq.read_table(out, columns=["f0"]).column(0).null_count
        return {"seconds": seconds, "rows": rows, "matched": matched}
    raise SystemExit(f"unknown operation {op!r}")


def _tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and every process descended from it (from /proc)."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may hold spaces: the fields after it start past the last ")".
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child_pid, parent in parents.items():
            if parent == pid and child_pid not in tree:
                tree.add(child_pid)
                frontier.append(child_pid)
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * page
        except OSError:
            pass
    return total


def measure(op: str, group: str, data: Path) -> dict:
    """Run ``op`` in a child process; its result plus ``peak_rss_mb`` of its process tree."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", op, group, str(data)],
        stdout=subprocess.PIPE,
        text=True,
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{op} failed (exit {proc.returncode})")
    result = json.loads(out.strip().splitlines()[-1])
    own_peak = usage.ru_maxrss * 1024  # KiB on Linux
    result["peak_rss_mb"] = round(max(peak, own_peak) / 2**20)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--online-rows", type=int, default=1_000_000, help="at most this many")
    parser.add_argument("--join-rows", type=int, default=None, help="default: --rows; 0 skips")
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--child", nargs=3, metavar=("OP", "GROUP", "DATA"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    home = Path(tempfile.mkdtemp(prefix="rayline-bench-fs-"))
    os.environ["RAYLINE_HOME"] = str(home)
    for var in ("RAYLINE_DB_URL", "RAYLINE_ARTIFACT_URI", "RAYLINE_ONLINE_STORE_URI"):
        os.environ.pop(var, None)
    log = sys.stderr
    rows = args.rows
    online_rows = min(rows, args.online_rows)
    join_rows = rows if args.join_rows is None else args.join_rows

    t = time.perf_counter()
    write_features(home / "features.parquet", rows)
    if online_rows < rows:
        write_features(home / "online.parquet", online_rows)
    else:
        (home / "online.parquet").symlink_to(home / "features.parquet")
    if join_rows:
        write_entities(home / "entities.parquet", join_rows, rows)
    print(f"inputs generated in {time.perf_counter() - t:.1f} s", file=log)

    offline = measure("ingest-offline", "bench-offline", home / "features.parquet")
    assert offline["rows"] == rows, offline
    online = measure("ingest-online", "bench-online", home / "online.parquet")
    assert online["rows"] == online_rows, online
    figures = {
        "rows": rows,
        "offline_ingest_rows_per_s": round(rows / offline["seconds"]),
        "offline_ingest_peak_rss_mb": offline["peak_rss_mb"],
        "online_rows": online_rows,
        "online_ingest_rows_per_s": round(online_rows / online["seconds"]),
        "online_ingest_peak_rss_mb": online["peak_rss_mb"],
    }
    figures.update(_lookups(online_rows, args.lookups))
    if join_rows:
        joined = measure("join", "bench-offline", home / "entities.parquet")
        assert joined["rows"] == join_rows, f"PIT join wrote {joined['rows']} of {join_rows}"
        print(
            f"PIT join: {joined['rows']} rows, {joined['matched']} with feature values, "
            f"{joined['seconds']:.2f} s",
            file=log,
        )
        unordered = measure("join-unordered", "bench-offline", home / "entities.parquet")
        assert unordered["rows"] == join_rows and unordered["matched"] == joined["matched"]
        print(f"PIT join, keep_order=False: {unordered['seconds']:.2f} s", file=log)
        figures.update(
            join_rows=join_rows,
            pit_join_s=round(joined["seconds"], 3),
            pit_join_peak_rss_mb=joined["peak_rss_mb"],
            pit_join_unordered_s=round(unordered["seconds"], 3),
            pit_join_unordered_peak_rss_mb=unordered["peak_rss_mb"],
        )
    figures["benchmark_peak_rss_mb"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    print(json.dumps(figures))
    return 0


def _lookups(rows: int, lookups: int) -> dict:
    """``get_record`` and ``batch_get_record`` latency against the online group."""
    from rayline.featurestore import FeatureGroup

    online_fg = FeatureGroup("bench-online")
    rng = np.random.default_rng(1)
    ids = rng.integers(0, rows, size=lookups).tolist()
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
    return {
        "get_record_p50_ms": round(float(np.percentile(lat, 50)) * 1000, 4),
        "get_record_p99_ms": round(float(np.percentile(lat, 99)) * 1000, 4),
        "batch_get_100_p50_ms": round(float(np.percentile(blat, 50)) * 1000, 3),
    }


if __name__ == "__main__":
    sys.exit(main())
