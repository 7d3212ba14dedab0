"""What a feature group is: its stored description (schema, stores, status, counts)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from rayline.featurestore.definitions import FeatureDefinition, FeatureType

#: ``FeatureGroupStatus`` values, as in SageMaker.
CREATING, CREATED, CREATE_FAILED, DELETING, DELETE_FAILED = (
    "Creating",
    "Created",
    "CreateFailed",
    "Deleting",
    "DeleteFailed",
)


@dataclass(frozen=True)
class FeatureGroupDescription:
    """A feature group's description (``FeatureGroup.describe()``).

    ``offline_store_uri`` is the ``.../data`` directory that ``ray.data.read_parquet`` reads.
    Record counts are filled in by ``describe()`` (``None`` when a store is disabled).
    """

    name: str
    status: str
    record_identifier_name: str
    event_time_feature_name: str
    feature_definitions: tuple[FeatureDefinition, ...]
    online_store_enabled: bool
    offline_store_enabled: bool
    online_store_uri: str | None
    offline_store_uri: str | None
    ttl_seconds: float | None
    description: str
    tags: dict[str, str] = field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0
    last_update_status: str | None = None
    online_record_count: int | None = None
    offline_record_count: int | None = None

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The feature names, in definition order."""
        return tuple(f.feature_name for f in self.feature_definitions)

    def feature_type(self, name: str) -> FeatureType:
        """The type of feature ``name`` (``KeyError`` when the group has no such feature)."""
        for f in self.feature_definitions:
            if f.feature_name == name:
                return f.feature_type
        raise KeyError(name)

    def to_dict(self) -> dict:
        """A JSON-able dict (for ``--json`` and step properties)."""
        out = asdict(self)
        out["feature_definitions"] = [f.to_dict() for f in self.feature_definitions]
        return out

    @classmethod
    def from_dict(cls, data: dict) -> FeatureGroupDescription:
        """The description ``to_dict`` wrote (a server's answer; unknown keys are ignored)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["feature_definitions"] = tuple(
            FeatureDefinition.from_dict(d) for d in data["feature_definitions"]
        )
        values["tags"] = dict(data.get("tags") or {})
        return cls(**values)
