"""The reference workflow, end to end, on embedded defaults (``make demo``).

1. runs the housing pipeline with a live progress view: ingestion into the feature store,
   preprocessing with Ray Data, XGBoost tuning with Ray Tune, evaluation, the RMSE gate and
   registration of the model (PendingManualApproval);
2. runs it again: every step is reused from the cache;
3. approves the model version and deploys it to a real-time endpoint on Ray Serve;
4. sends raw CSV rows (no scaling: the preprocessor travels with the model) and prints the
   predicted against the actual prices;
5. shows the lineage of the model version;
6. runs the pipeline with a very low RMSEThreshold, which takes the fail branch;
7. cleans up: endpoint, model package group, pipeline and feature group.

Options: ``--keep-endpoint`` leaves the endpoint serving on a long-lived local Ray
(``rayline up``; stop it with ``rayline down``) and keeps everything else for later runs,
which then hit the cache; ``--no-cleanup`` keeps everything but the endpoint. The last
line printed is a JSON object of timings.
"""

from __future__ import annotations

import argparse
import csv
import getpass
import json
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from pipeline import DATA, MODEL_PACKAGE_GROUP, get_pipeline  # noqa: E402

from rayline import ExecutionFailedError, delete_pipeline  # noqa: E402
from rayline.cli.progress import dag_tree, follow  # noqa: E402
from rayline.cli.render import duration, table  # noqa: E402

ENDPOINT = "synthetic-housing-endpoint"
out = Console(highlight=False)


def section(title: str) -> None:
    out.print()
    out.print(Rule(f"[bold]{title}", align="left"))


def run(pipeline, parameters=None):
    started = time.perf_counter()
    execution = pipeline.start(parameters=parameters)
    follow(execution)
    return execution, time.perf_counter() - started


def sample_rows(n: int) -> tuple[list[list[str]], list[str], list[str]]:
    """The last ``n`` rows of the dataset: raw features (no PRICE) and the actual prices."""
    with DATA.open() as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[-n:]
    price = header.index("PRICE")
    features = [[v for i, v in enumerate(r) if i != price] for r in body]
    return features, [r[price] for r in body], [h for h in header if h != "PRICE"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--keep-endpoint",
        action="store_true",
        help="leave the endpoint serving on `rayline up`'s Ray (and keep state)",
    )
    parser.add_argument(
        "--no-cleanup",
        action="store_true",
        help="keep the pipeline, model versions and feature group (later runs hit the cache)",
    )
    parser.add_argument("--max-jobs", type=int, default=16, help="tuning trials")
    parser.add_argument(
        "--ingest-actors",
        default="auto",
        help="Ray actors that ingest the CSV, or 'auto' (actors for a large input on a "
        "cluster, the step's own process for a small one)",
    )
    parser.add_argument(
        "--data",
        default=str(DATA),
        help="the raw CSV: a local path or an s3:// URI (default: the bundled dataset)",
    )
    parser.add_argument(
        "--place-on",
        metavar="RESOURCE",
        help="run preprocessing, tuning, evaluation and the endpoint's replica on the nodes "
        "that offer this custom Ray resource (e.g. worker)",
    )
    parser.add_argument(
        "--fail-threshold",
        type=float,
        default=1000.0,
        help="the RMSEThreshold of the run that shows the fail branch",
    )
    args = parser.parse_args()
    demo_started = time.perf_counter()

    from rayline.ray_connection import ensure_ray

    if args.keep_endpoint:
        from rayline.serving import start_local_ray

        ray_info = start_local_ray()
        out.print(f"long-lived local Ray at {ray_info.address} (stop it with `rayline down`)")
    ensure_ray()

    placement = {args.place_on: 0.1} if args.place_on else None
    pipeline = get_pipeline(
        max_jobs=args.max_jobs,
        data=args.data,
        placement=placement,
        ingest_actors=args.ingest_actors,
    )
    section("1. The pipeline")
    out.print(dag_tree(pipeline))
    out.print(f"stored as version {pipeline.upsert()} of {pipeline.name}")
    execution, cold_s = run(pipeline)
    record = execution.describe()
    if record.status != "Succeeded":
        out.print(f"[red]the pipeline did not succeed: {record.failure_reason}[/]")
        out.print(f"see its logs with: rayline execution logs {execution.id}")
        return 1

    steps = execution.list_steps()
    out.print(
        table(
            "Steps",
            ["step", "type", "status", "elapsed", "cache", "node"],
            [
                (
                    s.step_name,
                    s.step_type,
                    s.status.value,
                    duration(s.elapsed_s),
                    f"reused from {s.cached_from}" if s.cached_from else "ran",
                    (s.node or "")[:12],
                )
                for s in steps
            ],
        )
    )
    tuning = execution.step("HPTuning").properties
    trials = sorted(tuning["Trials"], key=lambda t: t.get("objective") or float("inf"))
    out.print(
        table(
            f"Tuning: {tuning['NumTrials']} trials in {tuning['TuningSeconds']:.1f} s (best first)",
            [
                "trial",
                "max_depth",
                "eta",
                "min_child_weight",
                "subsample",
                "validation-rmse",
                "validation-mae",
            ],
            [
                (
                    t["trial"],
                    t["max_depth"],
                    f"{t['eta']:.3f}",
                    f"{t['min_child_weight']:.1f}",
                    f"{t['subsample']:.3f}",
                    f"{t['validation-rmse']:,.0f}",
                    f"{t['validation-mae']:,.0f}",
                )
                for t in trials
            ],
        )
    )
    # Read through the artifact store: the output may be a local directory or an s3:// prefix.
    from rayline.store.artifacts import open_artifact_store

    evaluation_uri = execution.step("EvaluateModel").outputs["evaluation"]
    report = open_artifact_store().get_bytes(f"{evaluation_uri.rstrip('/')}/evaluation.json")
    metrics = json.loads(report)["regression_metrics"]
    out.print(
        table(
            "Evaluation of the best model on the test split",
            ["metric", "value", "std"],
            [
                (k, f"{v['value']:,.3f}", f"{v.get('standard_deviation', 0):,.3f}")
                for k, v in metrics.items()
            ],
        )
    )
    feature_group = record.parameters["FeatureGroupName"]
    ingestion_uri = execution.step("FeatureStoreIngestion").outputs["ingestion"]
    ingestion = json.loads(
        open_artifact_store().get_bytes(f"{ingestion_uri.rstrip('/')}/ingestion.json")
    )
    registered = execution.step("RegisterTrainedModel").properties
    group, version = registered["ModelPackageGroupName"], registered["ModelPackageVersion"]
    out.print(
        f"registered [bold]{group}/{version}[/] with status {registered['ModelPackageStatus']}"
    )

    section("2. The same pipeline again: every step comes from the cache")
    cached, cached_s = run(pipeline)
    reused = [s.step_name for s in cached.list_steps() if s.cached_from]
    out.print(f"re-run in {cached_s:.2f} s; reused: {', '.join(reused)}")

    section("3. Approve and deploy")
    from rayline.registry import ModelRegistry
    from rayline.serving import Endpoints

    registry = ModelRegistry()
    package = registry.describe(group, version)
    if package.status != "Approved":  # a kept version from an earlier run may be approved
        # A second pair of eyes: whoever started the execution may not approve the version it
        # registered (four eyes; RAYLINE_ALLOW_SELF_APPROVAL=true lifts the rule).
        package = registry.approve(
            group,
            version,
            by=f"{getpass.getuser()}-reviewer",
            reason=f"test RMSE {metrics['rmse']['value']:,.0f} reviewed",
        )
    out.print(
        table(
            f"Approval history of {group}/{version}",
            ["when", "from", "to", "by", "why"],
            [
                (
                    time.strftime("%H:%M:%S", time.localtime(h.at)),
                    h.from_status or "",
                    h.to_status,
                    h.by,
                    h.reason,
                )
                for h in package.history
            ],
        )
    )
    endpoints = Endpoints(allow_process_local=not args.keep_endpoint)
    if any(e.name == ENDPOINT for e in endpoints.list()):
        endpoint = endpoints.update(ENDPOINT, f"{group}/{version}", resources=placement or {})
    else:
        endpoint = endpoints.create(ENDPOINT, f"{group}/{version}", resources=placement)
    out.print(
        f"endpoint [bold]{endpoint.name}[/] is {endpoint.status}, serving "
        f"{endpoint.model_version} at {endpoint.invocation_url}"
    )
    replica_nodes = endpoints.replica_nodes(ENDPOINT)
    out.print(f"its replicas run on node(s) {', '.join(n[:12] for n in replica_nodes)}")

    section("4. Invoke the endpoint with raw CSV rows")
    features, actual, columns = sample_rows(6)
    body = "\n".join(",".join(r) for r in features)
    out.print(f"columns: {', '.join(columns)}")
    answer, _ = endpoints.invoke(ENDPOINT, body, content_type="text/csv")
    predicted = [float(v) for v in answer.decode().split()]
    out.print(
        table(
            "Predicted against actual",
            [*columns[:4], "...", "predicted", "actual", "error"],
            [
                (
                    *r[:4],
                    "...",
                    f"{p:,.0f}",
                    f"{float(a):,.0f}",
                    f"{(p - float(a)) / float(a):+.1%}",
                )
                for r, p, a in zip(features, predicted, actual, strict=True)
            ],
        )
    )
    as_json, _ = endpoints.invoke(
        ENDPOINT,
        json.dumps({"instances": [features[0]]}),
        content_type="application/json",
        accept="application/json",
    )
    out.print(f"application/json: {as_json.decode()}")

    section(f"5. Lineage of {group}/{version}")
    from rayline.cli.main import main as cli

    cli(["lineage", f"{group}/{version}"])

    section(f"6. The quality gate: RMSEThreshold={args.fail_threshold:g}")
    try:
        failing, _ = run(pipeline, {"RMSEThreshold": args.fail_threshold})
        failing.wait()
    except ExecutionFailedError as exc:
        out.print(f"as expected: {exc}")

    if args.keep_endpoint:
        section("Kept running")
        out.print(
            f"curl -s -H 'Content-Type: text/csv' --data '{','.join(features[0])}' "
            f"{endpoint.invocation_url}"
        )
        out.print(
            "clean up later with: rayline endpoint delete / rayline model delete-group / "
            "rayline pipeline delete / rayline feature-group delete; then rayline down"
        )
    else:
        section("7. Clean up")
        from rayline.featurestore import FeatureGroup

        endpoints.delete(ENDPOINT)  # it lives on this process's Ray: it cannot outlive it
        out.print(f"deleted endpoint {ENDPOINT}")
    if not (args.keep_endpoint or args.no_cleanup):
        registry.delete_group(MODEL_PACKAGE_GROUP, force=True)
        out.print(f"deleted model package group {MODEL_PACKAGE_GROUP}")
        delete_pipeline(pipeline.name)
        out.print(f"deleted pipeline {pipeline.name}")
        FeatureGroup(feature_group).delete()
        out.print(f"deleted feature group {feature_group}")

    total_s = time.perf_counter() - demo_started
    from rayline.ray_connection import shutdown_ray

    shutdown_ray()  # before the summary, so it stays the last line printed
    out.print()
    print(
        json.dumps(
            {
                "pipeline_cold_s": round(cold_s, 2),
                "pipeline_cached_s": round(cached_s, 2),
                "demo_s": round(total_s, 2),
                "test_rmse": round(metrics["rmse"]["value"], 1),
                "model_version": f"{group}/{version}",
                "step_nodes": {s.step_name: s.node for s in steps},
                "ingestion_nodes": ingestion.get("nodes", []),
                "endpoint_nodes": replica_nodes,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
