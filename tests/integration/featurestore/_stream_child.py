"""A separate OS process that ingests one Parquet file into an offline-only feature group and
prints, as JSON, the report's counts and how much its peak resident memory grew during the
ingestion (``ru_maxrss`` after the imports and the group's creation vs after the ingestion),
for ``test_fs_streaming``. The settings (metadata DB, artifact store) come from the environment
the test set.

    python _stream_child.py GROUP DATA.parquet BATCH_ROWS
"""

from __future__ import annotations

import json
import resource
import sys


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> int:
    group, data, batch_rows = sys.argv[1:]
    import pyarrow.parquet as pq

    from rayline.featurestore import FeatureGroup, ingestion, load_feature_definitions

    # The batch size is the knob that bounds memory; a small one makes a small input enough to
    # tell streaming from reading it whole.
    ingestion.MAX_BATCH_ROWS = int(batch_rows)
    schema = pq.read_schema(data)
    fg = FeatureGroup(group, load_feature_definitions(schema.empty_table()))
    fg.create(
        record_identifier_name="record_id",
        event_time_feature_name="event_time",
        enable_online_store=False,
    )
    before = _peak_mb()
    report = fg.ingest(data, max_workers=1)
    after = _peak_mb()
    print(
        json.dumps(
            {
                "rows_received": report.rows_received,
                "offline_rows_written": report.offline_rows_written,
                "rejected": len(report.rejected),
                "peak_growth_mb": after - before,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
