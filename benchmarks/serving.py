"""Serving benchmark: the housing model as a rayline endpoint vs. a plain uvicorn + Starlette app.

Both serve the same model the same way (``rayline.serving.predictor.Predictor``: the bundled
standard scaler, a preloaded Booster, ``inplace_predict``). ``wrk`` (a separate process) sends
single-row ``text/csv`` requests over 1 connection, then 16, to each.

    apt-get install -y wrk        # the load generator (Debian package)
    .venv/bin/python benchmarks/serving.py [--duration 10] [--model GROUP/VERSION]
        [--demo-timings FILE | --skip-demo]

Without ``--model`` it trains the housing model (XGBoost, reference settings: 100 rounds,
``reg:squarederror``) on ``house_pricing.csv`` and registers it in a temporary RAYLINE_HOME.
The endpoint runs on a Ray this process starts (Serve with HAProxy and the throughput-optimised
mode, as ``rayline up`` sets it up). ``--demo-timings FILE`` copies ``demo_cold_s`` and
``demo_cached_s`` from a JSON file; otherwise, in a fresh RAYLINE_HOME, it times the demo
(``examples/housing/demo.py --no-cleanup``) cold, then a new process re-running its pipeline
from the cache (``rayline pipeline start ... --wait``); ``--skip-demo`` leaves both null.

Targets (2-core machine): 1 connection p50 <= 2 ms, p99 <= 20 ms; 16 connections >= 1,000
requests/s, p99 <= 50 ms, >= half the plain server's rate. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(
    os.environ.get(
        "RAYLINE_HOUSING_CSV",
        str(
            Path(__file__).resolve().parents[1]
            / "examples"
            / "housing"
            / "data"
            / "house_pricing.csv"
        ),
    )
)
ROW = "2008,3063.66,2,1.0,1.37,2,0,0"

PLAIN_APP = """
import sys
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from rayline.serving.predictor import InvalidRequest, Predictor

predictor = Predictor.load(sys.argv[1], sys.argv[2])

async def invocations(request: Request) -> Response:
    body = await request.body()
    try:
        out, media = predictor.invoke(body, request.headers.get("content-type"),
                                      request.headers.get("accept"))
    except InvalidRequest as exc:
        return Response(str(exc), status_code=exc.status)
    return Response(out, media_type=media)

app = Starlette(routes=[Route("/invocations", invocations, methods=["POST"])])

if __name__ == "__main__":
    import uvicorn
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[3]), log_level="warning",
                access_log=False)
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train_housing_model(out: Path) -> tuple[Path, Path, Path]:
    """The reference model: standard-scaled features, XGBoost 100 rounds; with its report."""
    import numpy as np
    import pandas as pd
    import xgboost as xgb

    df = pd.read_csv(DATA).sample(frac=1.0, random_state=42)
    columns = [c for c in df.columns if c != "PRICE"]
    n_train = int(len(df) * 0.8)
    train, test = df.iloc[:n_train], df.iloc[n_train:]
    x = train[columns].to_numpy(float)
    means, stds = x.mean(0), x.std(0)
    stds[stds == 0] = 1.0

    def scaled(frame):
        return (frame[columns].to_numpy(float) - means) / stds

    booster = xgb.train(
        {"objective": "reg:squarederror", "max_depth": 6, "eta": 0.3},
        xgb.DMatrix(scaled(train), label=train["PRICE"]),
        100,
    )
    err = booster.inplace_predict(scaled(test)) - test["PRICE"].to_numpy(float)
    out.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(out / "model.ubj"))
    (out / "preprocessor.json").write_text(
        json.dumps(
            {"columns": columns, "means": means.tolist(), "stds": stds.tolist(), "label": "PRICE"}
        )
    )
    (out / "evaluation.json").write_text(
        json.dumps(
            {
                "regression_metrics": {
                    "mae": {
                        "value": float(np.abs(err).mean()),
                        "standard_deviation": float(np.abs(err).std()),
                    },
                    "rmse": {"value": float(np.sqrt((err**2).mean())), "standard_deviation": 0.0},
                }
            }
        )
    )
    return out / "model.ubj", out / "preprocessor.json", out / "evaluation.json"


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(f"cannot read wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def run_wrk(url: str, *, connections: int, duration: int, script: Path) -> dict[str, float]:
    threads = 1 if connections == 1 else 2
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    out = result.stdout
    if result.returncode != 0 or "Requests/sec" not in out:
        raise RuntimeError(f"wrk failed ({result.returncode}): {out}\n{result.stderr}")
    pct = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)$", out, re.M)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": _ms(pct["50"]),
        "p99_ms": _ms(pct["99"]),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


def check_answer(url: str) -> str:
    import urllib.request

    request = urllib.request.Request(url, data=ROW.encode(), headers={"Content-Type": "text/csv"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return resp.read().decode().strip()


def measure(name: str, url: str, duration: int, script: Path) -> dict[str, dict[str, float]]:
    answer = check_answer(url)
    log(f"{name}: answers {answer!r}; warming up")
    run_wrk(url, connections=16, duration=2, script=script)
    out = {}
    for connections in (1, 16):
        figures = run_wrk(url, connections=connections, duration=duration, script=script)
        log(f"{name} c={connections}: {figures}")
        out[f"c{connections}"] = figures
    return out


def demo_timings(args) -> tuple[float | None, float | None]:
    if args.demo_timings:
        data = json.loads(Path(args.demo_timings).read_text())
        return data.get("demo_cold_s"), data.get("demo_cached_s")
    if args.skip_demo:
        return None, None
    home = Path(tempfile.mkdtemp(prefix="rayline-demo-"))
    env = {**os.environ, "RAYLINE_HOME": str(home), "RAYLINE_SERVE_PORT": str(free_port())}
    for var in ("RAYLINE_DB_URL", "RAYLINE_ARTIFACT_URI", "MLFLOW_TRACKING_URI"):
        env.pop(var, None)
    # Cold: the whole demo from an empty RAYLINE_HOME (it keeps its pipeline and data).
    # Cached: a new process re-running that pipeline, every step from the cache.
    commands = (args.demo_command, args.cached_command)
    times = []
    try:
        for label, command in zip(("cold", "cached"), commands, strict=True):
            started = time.perf_counter()
            result = subprocess.run(
                command, shell=True, cwd=ROOT, env=env, capture_output=True, text=True
            )
            times.append(time.perf_counter() - started)
            log(f"demo {label}: {times[-1]:.1f} s (exit {result.returncode})")
            if result.returncode != 0:
                log(result.stdout[-2000:] + result.stderr[-2000:])
                return None, None
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return round(times[0], 2), round(times[1], 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument(
        "--model",
        help="an Approved GROUP/VERSION in the current RAYLINE_HOME "
        "(default: train the housing model in a temporary one)",
    )
    parser.add_argument("--demo-timings", help="JSON file with demo_cold_s and demo_cached_s")
    parser.add_argument("--skip-demo", action="store_true", help="don't time the demo")
    parser.add_argument(
        "--demo-command", default=f"{sys.executable} examples/housing/demo.py --no-cleanup"
    )
    parser.add_argument(
        "--cached-command",
        default=f"{Path(sys.executable).parent / 'rayline'} pipeline start "
        "synthetic-housing-training-ray --wait",
    )
    args = parser.parse_args()

    if shutil.which("wrk") is None:
        log(
            "wrk is missing: install it with `apt-get update && apt-get install -y wrk` "
            "(the load generator must be a separate process)"
        )
        print(json.dumps({"error": "wrk is not installed"}))
        return 2

    # The demo first, on its own Ray (its process's), before this process starts one.
    cold, cached = demo_timings(args)
    temp = Path(tempfile.mkdtemp(prefix="rayline-serving-bench-"))
    if not args.model:
        os.environ["RAYLINE_HOME"] = str(temp / "home")
        for var in ("RAYLINE_DB_URL", "RAYLINE_ARTIFACT_URI", "MLFLOW_TRACKING_URI"):
            os.environ.pop(var, None)
    os.environ.setdefault("RAYLINE_SERVE_PORT", str(free_port()))
    script = temp / "post.lua"
    script.write_text(
        f'wrk.method = "POST"\nwrk.body = "{ROW}"\nwrk.headers["Content-Type"] = "text/csv"\n'
    )

    from rayline.registry import ModelRegistry, parse_version_ref
    from rayline.serving import Endpoints

    registry = ModelRegistry()
    if args.model:
        group, version = parse_version_ref(args.model)
        package = registry.describe(group, version)
    else:
        model, pre, report = train_housing_model(temp / "model")
        package = registry.register(
            "housing-bench", model=str(model), preprocessor=str(pre), metrics=str(report)
        )
        package = registry.approve(package.group, package.version, reason="benchmark")
        log(f"trained and registered {package.ref} (test RMSE {package.metric('rmse'):,.0f})")

    plain = None
    endpoints = Endpoints(allow_process_local=True)
    name = f"bench-{os.getpid()}"
    try:
        started = time.perf_counter()
        endpoint = endpoints.create(name, package)
        log(
            f"endpoint {name} InService in {time.perf_counter() - started:.1f} s "
            f"(includes starting Ray and Serve)"
        )
        rayline_figures = measure("rayline", endpoint.invocation_url, args.duration, script)

        port = free_port()
        app = temp / "plain_app.py"
        app.write_text(PLAIN_APP)
        plain = subprocess.Popen(
            [sys.executable, str(app), package.model_uri, package.preprocessor_uri, str(port)]
        )
        plain_url = f"http://127.0.0.1:{port}/invocations"
        for _ in range(100):
            try:
                check_answer(plain_url)
                break
            except OSError:
                time.sleep(0.1)
        plain_figures = measure("plain uvicorn", plain_url, args.duration, script)
    finally:
        if plain is not None:
            plain.terminate()
            plain.wait(timeout=10)
        try:
            endpoints.delete(name)
        except Exception as exc:  # report, but still print the figures
            log(f"deleting the endpoint failed: {exc}")
        shutil.rmtree(temp, ignore_errors=True)

    r1, r16, p16 = rayline_figures["c1"], rayline_figures["c16"], plain_figures["c16"]
    result = {
        "p50_ms": round(r1["p50_ms"], 3),
        "p99_ms": round(r1["p99_ms"], 3),
        "rps_1": round(r1["rps"], 1),
        "rps_16": round(r16["rps"], 1),
        "p99_16_ms": round(r16["p99_ms"], 3),
        "plain_rps_16": round(p16["rps"], 1),
        "rps_ratio_vs_plain": round(r16["rps"] / p16["rps"], 3),
        "demo_cold_s": cold,
        "demo_cached_s": cached,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
