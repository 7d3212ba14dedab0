"""Object storage benchmark: the same work on local disk and on S3, in one run.

Starts its own local S3 server (moto's, over HTTP on loopback: ``start_local_s3``) and its own
temporary RAYLINE_HOME, then measures through rayline's public API:

- offline ingestion of ``--rows`` rows x 10 features (validation + hourly Parquet) into a group
  whose offline store is on local disk, and into one on ``s3://`` -> rows/s;
- a point-in-time join of ``--rows`` entity rows against those ``--rows`` feature rows, reading
  each store -> seconds;
- a ``--steps``-step chain of function steps, each passing a ``--mb`` MB output to the next
  (stored in the artifact store by reference), with ``file://`` and with ``s3://`` artifacts ->
  seconds. Each chain runs in its own process (its own local Ray, warmed up first), since Ray
  workers keep the environment they started with.

Each figure is the best of ``--repeat`` runs (local and S3 alternating), since the machine is
shared. ``--skip-s3-chain`` measures the chain on ``file://`` only.

    .venv/bin/python benchmarks/storage.py [--rows 1000000] [--steps 20] [--mb 10] [--repeat 2]

The S3 server runs on the same cores as everything else, so the S3 figures are the protocol's
cost, not a network's. The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from feature_store import make_frame  # the feature store benchmark's data

BUCKET = "rayline-bench-storage"


def offline_figures(rows: int, s3_root: str, local_root: str, *, repeat: int) -> dict[str, float]:
    """Ingest and join on each store, ``repeat`` times each (a fresh group every time, local
    and S3 alternating); returns the best rate and time of each."""
    import numpy as np
    import pandas as pd

    from rayline.featurestore import FeatureGroup, create_dataset, load_feature_definitions

    log = sys.stderr
    df = make_frame(rows)
    definitions = load_feature_definitions(df)
    rng = np.random.default_rng(1)
    entities = pd.DataFrame(
        {
            "record_id": rng.integers(0, rows, size=rows),
            "event_time": 1_735_689_600.0 + rng.random(rows) * 8 * 86400,
        }
    )
    ingest_s: dict[str, list[float]] = {"local": [], "s3": []}
    join_s: dict[str, list[float]] = {"local": [], "s3": []}
    for attempt in range(repeat):
        for label, root in (("local", local_root), ("s3", s3_root)):
            fg = FeatureGroup(f"bench-{label}-{attempt}", definitions, artifact_uri=root)
            fg.create(
                record_identifier_name="record_id",
                event_time_feature_name="event_time",
                enable_online_store=False,
            )
            t = time.perf_counter()
            report = fg.ingest(df)
            ingest_s[label].append(time.perf_counter() - t)
            assert report.offline_rows_written == rows and report.ok, report.summary()
            print(f"{label}: {report.summary()} -> {fg.offline_store_uri}", file=log)
            builder = (
                create_dataset(
                    entities,
                    record_identifier_feature_name="record_id",
                    event_time_identifier_feature_name="event_time",
                )
                .with_feature_group(fg)
                .point_in_time_accurate_join()
            )
            t = time.perf_counter()
            joined = builder.to_dataframe()
            join_s[label].append(time.perf_counter() - t)
            assert len(joined) == rows, f"PIT join returned {len(joined)} of {rows} entity rows"
            matched = int(joined["f0"].notna().sum())
            print(
                f"{label}: PIT join {len(joined)} rows, {matched} matched, "
                f"{join_s[label][-1]:.2f} s",
                file=log,
            )
    out: dict[str, float] = {}
    for label in ("local", "s3"):
        out[f"{label}_offline_ingest_rows_per_s"] = round(rows / min(ingest_s[label]))
        out[f"{label}_pit_join_1m_s"] = round(min(join_s[label]), 3)
    return out


def chain_seconds(steps: int, megabytes: int, *, repeat: int) -> float:
    """Run a ``steps``-step chain passing ``megabytes`` MB outputs with this process's
    RAYLINE_ARTIFACT_URI ``repeat`` times; returns the best wall time (Ray started and warmed up
    beforehand)."""
    from rayline import Pipeline, step
    from rayline.ray_connection import ensure_ray

    ensure_ray()

    @step
    def first(size: int) -> bytes:
        return os.urandom(size)

    @step
    def link(previous: bytes, i: int) -> bytes:
        # A new output of the same size each step, so nothing is shared or deduplicated.
        return i.to_bytes(4, "little") + previous[4:]

    @step
    def tiny(i):
        return i

    Pipeline("bench-storage-warmup", steps=[tiny(tiny(1))]).start().wait()
    size = megabytes * 1_000_000
    last = first(size)
    for i in range(1, steps):
        last = link(last, i)
    pipeline = Pipeline("bench-storage-chain", steps=[last])
    pipeline.upsert()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        execution = pipeline.start()
        execution.wait()
        times.append(time.perf_counter() - t)
        result = execution.result(last.name)
        assert len(result) == size and result[:4] == (steps - 1).to_bytes(4, "little")
    print(f"chain: {', '.join(f'{x:.2f}' for x in times)} s", file=sys.stderr)
    return min(times)


def run_chain(
    home: Path, artifact_uri: str, env: dict[str, str], steps: int, megabytes: int, repeat: int
) -> float:
    """The chain in a child process with its own RAYLINE_HOME (``home``) and
    ``RAYLINE_ARTIFACT_URI=artifact_uri``."""
    child_env = {
        **os.environ,
        **env,
        "RAYLINE_HOME": str(home),
        "RAYLINE_ARTIFACT_URI": artifact_uri,
    }
    child_env.pop("RAY_ADDRESS", None)
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--chain-only",
            *("--steps", str(steps), "--mb", str(megabytes), "--repeat", str(repeat)),
        ],
        env=child_env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"the chain on {artifact_uri} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])["chain_s"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--mb", type=int, default=10, help="size of each step's output, MB")
    parser.add_argument(
        "--repeat", type=int, default=2, help="runs of each measurement; the best is reported"
    )
    parser.add_argument(
        "--skip-s3-chain",
        action="store_true",
        help="measure the chain on file:// only (s3_chain_s is then null)",
    )
    parser.add_argument("--chain-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.chain_only:
        print(json.dumps({"chain_s": chain_seconds(args.steps, args.mb, repeat=args.repeat)}))
        return 0

    home = Path(tempfile.mkdtemp(prefix="rayline-bench-storage-"))
    os.environ["RAYLINE_HOME"] = str(home)
    for var in ("RAYLINE_DB_URL", "RAYLINE_ARTIFACT_URI", "RAYLINE_ONLINE_STORE_URI"):
        os.environ.pop(var, None)

    from rayline.store.local_s3 import start_local_s3

    server = start_local_s3()
    try:
        s3_env = server.environment()
        os.environ.update(s3_env)
        for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            os.environ.pop(var, None)
        server.create_bucket(BUCKET)
        figures: dict[str, object] = {"rows": args.rows}
        figures.update(
            offline_figures(
                args.rows,
                s3_root=f"s3://{BUCKET}/offline",
                local_root=(home / "offline").as_uri(),
                repeat=args.repeat,
            )
        )
        local_chain = run_chain(
            home / "chain-local",
            (home / "chain-local" / "artifacts").as_uri(),
            {},
            args.steps,
            args.mb,
            args.repeat,
        )
        s3_chain = (
            None
            if args.skip_s3_chain
            else run_chain(
                home / "chain-s3", f"s3://{BUCKET}/chain", s3_env, args.steps, args.mb, args.repeat
            )
        )
    finally:
        server.stop()
    figures["local_chain_s"] = round(local_chain, 3)
    figures["s3_chain_s"] = None if s3_chain is None else round(s3_chain, 3)
    figures.update(
        chain_steps=args.steps,
        chain_output_mb=args.mb,
        repeat=args.repeat,
        s3_vs_local_ingest=round(
            figures["s3_offline_ingest_rows_per_s"] / figures["local_offline_ingest_rows_per_s"], 3
        ),
        s3_vs_local_join=round(figures["s3_pit_join_1m_s"] / figures["local_pit_join_1m_s"], 3),
        s3_vs_local_chain=None if s3_chain is None else round(s3_chain / local_chain, 3),
    )
    keys = (
        "s3_offline_ingest_rows_per_s",
        "local_offline_ingest_rows_per_s",
        "s3_pit_join_1m_s",
        "local_pit_join_1m_s",
        "s3_chain_s",
        "local_chain_s",
    )
    ordered = {k: figures.pop(k) for k in keys}
    print(json.dumps({**ordered, **figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
