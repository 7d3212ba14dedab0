"""A separate OS process that ingests one Parquet file into a feature group, for
``test_fs_concurrency``. The settings (metadata DB, artifact store, S3) come from the
environment the test set.

    python _ingest_child.py GROUP DATA.parquet SYNC_DIR NAME [--together] [--hang | --fail]

``--together``: after taking its snapshot of the committed files, touch ``SYNC_DIR/ready-NAME``
and wait for ``SYNC_DIR/go``, so the test can start every writer's writes only once all of
them have looked (the worst case for duplicates: nobody sees anybody's rows).
``--hang``: after the first offline file is stored, touch ``SYNC_DIR/wrote-NAME`` and block
until killed (the test kills it with SIGKILL at that known point). ``--fail``: raise instead
(an ingestion that fails half-way). They only wait or raise; every write is the real one.
Prints the ingestion report as JSON.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def _wait_for(path: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {path}")
        time.sleep(0.01)


def main() -> int:
    group, data, sync_dir, name, *flags = sys.argv[1:]
    sync = Path(sync_dir)
    import pyarrow.parquet as pq

    from rayline.featurestore import FeatureGroup, offline
    from rayline.featurestore._offline_files import OfflineFiles

    if "--together" in flags:
        committed_files = offline.committed_files

        def committed_then_wait(*args, **kwargs):
            out = committed_files(*args, **kwargs)
            (sync / f"ready-{name}").touch()
            _wait_for(sync / "go")
            return out

        offline.committed_files = committed_then_wait
    if "--hang" in flags or "--fail" in flags:
        write = OfflineFiles.write

        def write_then_stop(self, *args, **kwargs):
            write(self, *args, **kwargs)
            (sync / f"wrote-{name}").touch()
            if "--fail" in flags:
                raise RuntimeError("failing after the first offline file, as asked")
            while True:
                time.sleep(60)

        OfflineFiles.write = write_then_stop
    report = FeatureGroup(group).ingest(pq.read_table(data))
    print(
        json.dumps(
            {
                "ok": report.ok,
                "offline_rows_written": report.offline_rows_written,
                "offline_duplicates_skipped": report.offline_duplicates_skipped,
                "online_rows_written": report.online_rows_written,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
