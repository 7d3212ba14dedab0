"""What an ingestion did: rows written to each store, and every rejected row with its reason."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from rayline.errors import SchemaError


@dataclass(frozen=True)
class RejectedRow:
    """A row that was not written: its 0-based position in the input, identifier and reason."""

    row: int
    record_identifier: str | None
    reason: str


@dataclass(frozen=True)
class IngestionReport:
    """The result of ``FeatureGroup.ingest``.

    ``online_rows_written`` counts rows that became the online record when they were written; a
    row whose event time is not newer than the stored one goes to the offline store only
    (``online_rows_superseded``). With parallel workers an older row can be written before its
    newer version arrives and counts as written; the final online record is the latest anyway.
    ``offline_duplicates_skipped`` counts rows already in the offline store (a re-ingest).
    """

    feature_group: str
    rows_received: int
    rows_valid: int
    online_rows_written: int
    online_rows_superseded: int
    offline_rows_written: int
    offline_duplicates_skipped: int
    rejected: tuple[RejectedRow, ...] = field(default_factory=tuple)
    mode: str = "local"
    workers: int = 1
    duration_s: float = 0.0
    #: the Ray nodes the workers ran on (empty for an ingestion in this process)
    nodes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no row was rejected."""
        return not self.rejected

    def raise_for_rejected(self) -> None:
        """Raise ``SchemaError`` naming the first rejected rows, if any row was rejected."""
        if self.rejected:
            sample = "; ".join(f"row {r.row}: {r.reason}" for r in self.rejected[:5])
            more = f" (and {len(self.rejected) - 5} more)" if len(self.rejected) > 5 else ""
            raise SchemaError(
                f"{len(self.rejected)} of {self.rows_received} rows were rejected by feature "
                f"group {self.feature_group!r}: {sample}{more}"
            )

    def to_dict(self) -> dict:
        """A JSON-able dict (for ``--json`` and step properties)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> IngestionReport:
        """The report ``to_dict`` wrote (a server's answer; unknown keys are ignored)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["rejected"] = tuple(RejectedRow(**r) for r in data.get("rejected") or ())
        values["nodes"] = tuple(data.get("nodes") or ())
        return cls(**values)

    def summary(self) -> str:
        """One line for logs."""
        return (
            f"feature group {self.feature_group!r}: {self.rows_received} rows received, "
            f"{len(self.rejected)} rejected; online: {self.online_rows_written} written, "
            f"{self.online_rows_superseded} superseded; offline: {self.offline_rows_written} "
            f"written, {self.offline_duplicates_skipped} duplicates skipped "
            f"({self.mode}, {self.workers} worker(s), {self.duration_s:.2f} s)"
        )
