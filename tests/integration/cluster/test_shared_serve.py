"""Endpoints on a shared, two-node Ray cluster (``rayline.local_cluster``): rayline changes only
its own Serve applications, Serve's one proxy runs on the head, and ``resources=`` places an
endpoint's replicas on the worker node, which answers through the head's proxy.

The pytest process holds the session's own local Ray, so the cluster (the folder's one, with
the dashboard for ``serve deploy``: ``conftest.py``) is driven from driver subprocesses that
print JSON. Its metadata DB is PostgreSQL (a SQLite file is
refused on a cluster) and its artifact store a directory outside the cluster's root, which both
nodes see.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.conftest import POSTGRES_URL, REDIS_URL

pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.cluster]

ROW = "2008,3063.66,2,1.0,1.37,2,0,0"


def _predicted(model_dir: Path, row: str) -> float:
    """XGBoost's prediction for a raw CSV row, scaled by the model's preprocessor."""
    import numpy as np
    import xgboost as xgb

    pre = json.loads((model_dir / "preprocessor.json").read_text())
    booster = xgb.Booster(model_file=str(model_dir / "model.ubj"))
    x = (np.array([row.split(",")], dtype=float) - pre["means"]) / pre["stds"]
    return float(booster.inplace_predict(x)[0])


FOREIGN_APP = """
from ray import serve
from starlette.responses import PlainTextResponse


@serve.deployment(ray_actor_options={"num_cpus": 0.05})
class Hello:
    async def __call__(self, request):
        return PlainTextResponse("hello from beside rayline")


app = Hello.bind()
"""

DRIVER = r"""
import json, sys
from rayline.errors import RaylineError
from rayline.registry import ModelRegistry
from rayline.serving import Endpoints, ray_serve

action, args = sys.argv[1], json.loads(sys.argv[2])
out = {}
try:
    if action == "register":
        registry = ModelRegistry()
        for d in args["models"]:
            v = registry.register("housing", model=d + "/model.ubj",
                                  preprocessor=d + "/preprocessor.json",
                                  metrics=d + "/evaluation")
            registry.approve("housing", v.version, reason="test")
    elif action == "create":
        out["endpoint"] = Endpoints().create(args["name"], args["model"],
                                             resources=args.get("resources")).to_dict()
    elif action == "update":
        out["endpoint"] = Endpoints().update(args["name"], args["model"]).to_dict()
    elif action == "delete":
        Endpoints().delete(args["name"])
    elif action == "serve-run":
        from ray import serve
        ray_serve.connect()
        ray_serve.ensure_serve()

        @serve.deployment(ray_actor_options={"num_cpus": 0.05})
        def imperative(request):
            return "imperative"

        serve.run(imperative.bind(), name=args["name"], route_prefix=args["route"],
                  blocking=False)
except RaylineError as exc:
    out["error"] = f"{type(exc).__name__}: {exc}"
ray_serve.connect()
details = ray_serve.ensure_serve().get_serve_details()
out["proxy_location"] = details.get("proxy_location")
out["proxies"] = sorted(details.get("proxies") or {})
out["apps"] = {
    name: {
        "status": app["status"],
        "source": app["source"],
        "route": app.get("route_prefix"),
        "nodes": sorted({r["node_id"] for d in app["deployments"].values()
                         for r in d.get("replicas", [])}),
    }
    for name, app in details["applications"].items()
}
print(json.dumps(out))
"""


@dataclass(frozen=True)
class Shared:
    cluster: object  # rayline.local_cluster.LocalCluster
    env: dict[str, str]
    port: int
    work: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def drive(self, action: str, **args) -> dict:
        done = subprocess.run(
            [sys.executable, "-c", DRIVER, action, json.dumps(args)],
            env=self.env,
            cwd=self.work,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-4000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "rayline.cli.main", *args],
            env=self.env,
            cwd=self.work,
            capture_output=True,
            text=True,
            timeout=300,
        )


def _database(name: str, *, drop: bool = False) -> str:
    import sqlalchemy as sa

    admin = sa.create_engine(
        POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        if drop:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        else:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{POSTGRES_URL.rsplit('/', 1)[0]}/{name}"


@pytest.fixture(scope="module")
def shared(two_nodes, tmp_path_factory, tiny_models):
    cluster = two_nodes.cluster
    name = f"rayline_shared_{uuid.uuid4().hex[:8]}"
    try:
        # Outside the cluster's root: both nodes see it (the worker cannot see the root).
        work = tmp_path_factory.mktemp("shared-cluster")
        (work / "foreign_app.py").write_text(FOREIGN_APP)
        home = cluster.root / f"home-{name}"
        home.mkdir()
        env = {
            **os.environ,
            **cluster.environment(),
            "RAYLINE_HOME": str(home),
            "RAYLINE_DB_URL": _database(name),
            "MLFLOW_TRACKING_URI": _database(f"{name}_mlflow"),
            "RAYLINE_ONLINE_STORE_URI": f"{REDIS_URL}?prefix={name}:",
            "RAYLINE_ARTIFACT_URI": (work / "artifacts").as_uri(),
            "RAYLINE_SERVE_PORT": str(two_nodes.serve_port),
        }
        for var in ("RAYLINE_SERVE_PROXY_LOCATION", "RAYLINE_SERVE_FAST"):
            env.pop(var, None)
        running = Shared(cluster=cluster, env=env, port=two_nodes.serve_port, work=work)
        running.drive("register", models=[str(d) for d in tiny_models])
        yield running
    finally:
        _database(name, drop=True)
        _database(f"{name}_mlflow", drop=True)


def serve_deploy_foreign(shared: Shared) -> None:
    """``serve deploy`` an application rayline does not own, as another team would."""
    config = {
        "proxy_location": "HeadOnly",
        "http_options": {"host": "127.0.0.1", "port": shared.port},
        "applications": [
            {
                "name": "foreign",
                "route_prefix": "/foreign",
                "import_path": "foreign_app:app",
                "runtime_env": {"env_vars": {"PYTHONPATH": str(shared.work)}},
            }
        ],
    }
    path = shared.work / "foreign.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    serve = Path(sys.executable).parent / "serve"
    done = subprocess.run(
        [str(serve), "deploy", str(path), "--address", shared.cluster.dashboard_url],
        env=shared.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-2000:])


def wait_answer(url: str, *, timeout: float = 90.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = httpx.get(url, timeout=5)
            if response.status_code == 200:
                return response.text
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.5)


def assert_foreign_alive(shared: Shared, state: dict) -> None:
    assert state["apps"]["foreign"]["status"] == "RUNNING", state["apps"]
    assert state["apps"]["foreign"]["source"] == "declarative"
    assert httpx.get(f"{shared.base}/foreign", timeout=10).text == "hello from beside rayline"


def test_rayline_changes_only_its_own_applications(shared):
    serve_deploy_foreign(shared)
    assert wait_answer(f"{shared.base}/foreign") == "hello from beside rayline"

    created = shared.drive("create", name="beside", model="housing/1")
    assert "error" not in created, created["error"]
    assert created["endpoint"]["EndpointStatus"] == "InService"
    assert_foreign_alive(shared, created)
    assert float(httpx.post(f"{shared.base}/endpoints/beside/invocations", content=ROW).text)

    updated = shared.drive("update", name="beside", model="housing/2")
    assert updated["endpoint"]["ModelVersion"] == "housing/2"
    assert_foreign_alive(shared, updated)

    deleted = shared.drive("delete", name="beside")
    # Its route is gone; Serve may still be draining the replica.
    assert deleted["apps"].get("beside", {}).get("status", "DELETING") == "DELETING"
    assert httpx.get(f"{shared.base}/endpoints/beside", timeout=10).status_code == 404
    assert_foreign_alive(shared, deleted)


def test_an_application_rayline_did_not_deploy_keeps_its_name(shared):
    # An imperative (``serve.run``) app holds the name an endpoint asks for: a declarative
    # apply naming it would take it over, so rayline refuses and leaves it running.
    ran = shared.drive("serve-run", name="taken", route="/someone-else")
    assert ran["apps"]["taken"]["source"] == "imperative"
    assert wait_answer(f"{shared.base}/someone-else") == "imperative"
    refused = shared.drive("create", name="taken", model="housing/1")
    assert refused["error"].startswith("ConflictError"), refused
    assert "did not deploy" in refused["error"]
    assert refused["apps"]["taken"]["source"] == "imperative"
    assert httpx.get(f"{shared.base}/someone-else", timeout=10).text == "imperative"
    # The failed endpoint goes away without touching the app that holds its name.
    gone = shared.drive("delete", name="taken")
    assert gone["apps"]["taken"]["status"] == "RUNNING"
    assert httpx.get(f"{shared.base}/someone-else", timeout=10).text == "imperative"


def test_an_endpoint_placed_on_the_worker_answers_through_the_heads_proxy(shared, tiny_models):
    nodes = shared.cluster.node_ids()
    done = shared.cli(
        "endpoint", "create", "placed", "housing/1", "--resources", '{"worker": 0.1}', "--json"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["Config"]["resources"] == {"worker": 0.1}
    state = shared.drive("status")
    # One proxy, on the head (RAYLINE_SERVE_PROXY_LOCATION's default): both nodes share
    # this machine's ports.
    assert state["proxy_location"] == "HeadOnly"
    assert state["proxies"] == [nodes["head"]]
    assert state["apps"]["placed"]["nodes"] == [nodes["worker"]]
    # Through the head's proxy (HAProxy, then the replica's own HTTP port on the worker): the
    # prediction of housing/1, XGBoost's own on the same model file.
    want = _predicted(tiny_models[0], ROW)
    for _ in range(20):
        answer = httpx.post(f"{shared.base}/endpoints/placed/invocations", content=ROW, timeout=10)
        assert answer.status_code == 200, answer.text
        assert float(answer.text) == pytest.approx(want, rel=1e-5)
    shown = shared.cli("endpoint", "describe", "placed")
    assert shown.returncode == 0, shown.stderr[-3000:]
    assert "Placement" in shown.stdout and "worker=0.1" in shown.stdout
    refused = shared.cli("endpoint", "update", "placed", "housing/1", "--resources", "{worker}")
    assert refused.returncode != 0 and "not JSON" in refused.stderr
    assert shared.cli("endpoint", "delete", "placed").returncode == 0
