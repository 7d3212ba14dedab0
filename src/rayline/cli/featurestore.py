"""Feature store commands: ``rayline feature-group create|list|describe|update|delete``,
``rayline ingest``, ``rayline get-record`` and ``rayline query``."""

from __future__ import annotations

from typing import Any

from rayline.cli.arguments import add_group, arg, command, parse_pairs
from rayline.cli.render import console, print_json, table, when
from rayline.errors import UserInputError


def register(sub: Any) -> None:
    cmds = add_group(sub, "feature-group", "Create, inspect and delete feature groups.")
    name = arg("name")
    command(
        cmds,
        "create",
        cmd_create,
        "Create a feature group.",
        name,
        arg("--record-identifier", required=True, help="the record identifier feature"),
        arg(
            "--event-time", required=True, help="the event time feature (Unix seconds or ISO-8601)"
        ),
        arg(
            "--feature",
            action="append",
            default=[],
            metavar="NAME:TYPE",
            help="a feature, TYPE one of Integral, Fractional, String (repeatable)",
        ),
        arg(
            "--from-file",
            metavar="CSV_OR_PARQUET",
            help="infer the features from a file's column types",
        ),
        arg("--no-online-store", action="store_true"),
        arg("--no-offline-store", action="store_true"),
        arg("--online-store-uri", help="sqlite:///... or redis://... (default: SQLite)"),
        arg("--ttl", type=float, metavar="SECONDS", help="online time-to-live"),
        arg("--description", default=""),
        arg("--tag", action="append", default=[], metavar="KEY=VALUE"),
        json=True,
    )
    command(cmds, "list", cmd_list, "List feature groups.", arg("--name-contains"), json=True)
    command(
        cmds,
        "describe",
        cmd_describe,
        "Show a group: status, schema, stores, record counts.",
        name,
        json=True,
    )
    command(
        cmds,
        "update",
        cmd_update,
        "Add features or change the online TTL.",
        name,
        arg("--add-feature", action="append", default=[], metavar="NAME:TYPE"),
        arg("--ttl", type=float, metavar="SECONDS"),
    )
    command(
        cmds,
        "delete",
        cmd_delete,
        "Delete a group, its online records and offline data.",
        name,
        arg("--keep-offline-data", action="store_true"),
    )
    command(
        sub,
        "ingest",
        cmd_ingest,
        "Ingest a CSV or Parquet file into a feature group.",
        arg("feature_group"),
        arg("path", help="a .csv or .parquet file, or a Parquet directory"),
        arg(
            "--max-workers",
            type=int,
            help="Ray actors (0.5 CPU each); default: chosen by input size",
        ),
        arg("--target-store", action="append", choices=["OnlineStore", "OfflineStore"]),
        json=True,
        description="Ingest a CSV or Parquet file into a feature group. Exits 1 "
        "when rows were rejected (they are listed).",
    )
    command(
        sub,
        "get-record",
        cmd_get_record,
        "Read a record from a group's online store.",
        arg("feature_group"),
        arg("record_identifier"),
        arg("--feature", action="append", metavar="NAME", help="only these features"),
        json=True,
    )
    query = command(
        sub,
        "query",
        cmd_query,
        "Run one read-only SELECT over the offline stores (DuckDB).",
        arg("sql"),
        json=True,
        description="Run one read-only SELECT over the offline stores. Each feature group is a "
        "view named after it: rayline query 'SELECT count(*) FROM \"my-group\"'. Nothing but "
        "those views can be read (no files, COPY, SET or PRAGMA); a query stops after "
        "RAYLINE_SQL_TIMEOUT_S seconds (default 30).",
    )
    query.add_argument("--max-rows", type=int, default=50, help="rows to print (table output)")


def _features(specs: list[str]):
    from rayline.featurestore import FeatureDefinition

    pairs = parse_pairs(
        specs, option="--feature", sep=":", form="NAME:TYPE", example="price:Fractional"
    )
    return [FeatureDefinition(name, ftype.strip()) for name, ftype in pairs]


def cmd_create(args: Any) -> int:
    from rayline.featurestore import FeatureGroup, load_feature_definitions

    features = _features(args.feature)
    if args.from_file:
        from rayline.featurestore.ingestion import read_input

        fake = _schema_free_description()
        table_ = read_input(args.from_file, fake)
        features = load_feature_definitions(table_.slice(0, 0)) + features
    if not features:
        raise UserInputError("give the features with --feature NAME:TYPE or --from-file PATH")
    fg = FeatureGroup(args.name, features)
    desc = fg.create(
        record_identifier_name=args.record_identifier,
        event_time_feature_name=args.event_time,
        enable_online_store=not args.no_online_store,
        enable_offline_store=not args.no_offline_store,
        online_store_uri=args.online_store_uri,
        ttl_seconds=args.ttl,
        description=args.description,
        tags=dict(parse_pairs(args.tag, option="--tag")),
    )
    if args.json:
        print_json(desc.to_dict())
    else:
        console().print(
            f"feature group [bold]{desc.name}[/] created ({len(desc.feature_definitions)} features)"
        )
    return 0


def _schema_free_description():
    """A description with no String features, so a file is read with inferred types."""
    from rayline.featurestore.description import FeatureGroupDescription

    return FeatureGroupDescription(
        name="inferred",
        status="Created",
        record_identifier_name="",
        event_time_feature_name="",
        feature_definitions=(),
        online_store_enabled=False,
        offline_store_enabled=False,
        online_store_uri=None,
        offline_store_uri=None,
        ttl_seconds=None,
        description="",
    )


def cmd_list(args: Any) -> int:
    from rayline.featurestore import list_feature_groups

    groups = list_feature_groups(name_contains=args.name_contains)
    if args.json:
        print_json([g.to_dict() for g in groups])
        return 0
    stores = lambda g: "+".join(  # noqa: E731
        s
        for s, on in (("online", g.online_store_enabled), ("offline", g.offline_store_enabled))
        if on
    )
    console().print(
        table(
            "Feature groups",
            ["name", "status", "features", "stores", "created"],
            [
                (g.name, g.status, len(g.feature_definitions), stores(g), when(g.created_at))
                for g in groups
            ],
        )
    )
    return 0


def cmd_describe(args: Any) -> int:
    from rayline.featurestore import FeatureGroup

    desc = FeatureGroup(args.name).describe()
    if args.json:
        print_json(desc.to_dict())
        return 0
    out = console()
    out.print(f"[bold]{desc.name}[/]  {desc.status}  (created {when(desc.created_at)})")
    if desc.description:
        out.print(desc.description)
    out.print(
        f"record identifier: {desc.record_identifier_name}   "
        f"event time: {desc.event_time_feature_name}   "
        f"TTL: {desc.ttl_seconds or 'none'}"
    )
    out.print(
        table(
            "Features",
            ["name", "type"],
            [(f.feature_name, f.feature_type.value) for f in desc.feature_definitions],
        )
    )
    rows = []
    if desc.online_store_enabled:
        rows.append(("online", desc.online_store_uri, desc.online_record_count))
    if desc.offline_store_enabled:
        rows.append(("offline", desc.offline_store_uri, desc.offline_record_count))
    out.print(table("Stores", ["store", "location", "records"], rows))
    if desc.tags:
        out.print("tags: " + ", ".join(f"{k}={v}" for k, v in desc.tags.items()))
    return 0


def cmd_update(args: Any) -> int:
    from rayline.featurestore import FeatureGroup

    desc = FeatureGroup(args.name).update(
        feature_additions=_features(args.add_feature) or None, ttl_seconds=args.ttl
    )
    console().print(
        f"feature group [bold]{desc.name}[/] updated ({len(desc.feature_definitions)} features)"
    )
    return 0


def cmd_delete(args: Any) -> int:
    from rayline.featurestore import FeatureGroup

    FeatureGroup(args.name).delete(keep_offline_data=args.keep_offline_data)
    console().print(f"feature group [bold]{args.name}[/] deleted")
    return 0


def cmd_ingest(args: Any) -> int:
    from rayline.featurestore import FeatureGroup

    report = FeatureGroup(args.feature_group).ingest(
        args.path, max_workers=args.max_workers, target_stores=args.target_store
    )
    if args.json:
        print_json(report.to_dict())
    else:
        out = console()
        out.print(report.summary())
        if report.rejected:
            out.print(
                table(
                    f"{len(report.rejected)} rejected rows",
                    ["row", "identifier", "reason"],
                    [(r.row, r.record_identifier, r.reason) for r in report.rejected],
                )
            )
    return 0 if report.ok else 1


def cmd_get_record(args: Any) -> int:
    from rayline.errors import NotFoundError
    from rayline.featurestore import FeatureGroup

    record = FeatureGroup(args.feature_group).get_record(
        args.record_identifier, feature_names=args.feature
    )
    if record is None:
        raise NotFoundError(
            f"no record {args.record_identifier!r} in the online store of "
            f"{args.feature_group!r} (never written, deleted, or expired)"
        )
    if args.json:
        print_json(record)
    else:
        console().print(table(None, ["feature", "value"], list(record.items())))
    return 0


def cmd_query(args: Any) -> int:
    from rayline.featurestore import query_arrow

    result = query_arrow(args.sql)
    if result is None:
        return 0
    if args.json:
        print_json(result.to_pylist())
        return 0
    shown = result.slice(0, args.max_rows)
    console().print(
        table(None, result.column_names, [tuple(r.values()) for r in shown.to_pylist()])
    )
    if result.num_rows > args.max_rows:
        console().print(f"({result.num_rows} rows; {args.max_rows} shown, --json for all)")
    return 0
