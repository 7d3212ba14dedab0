"""One settings object: every variable rayline reads, with its documented default."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import rayline
from rayline.config import settings
from rayline.errors import ConfigError

VARIABLES = (
    "RAYLINE_HOME",
    "RAYLINE_DB_URL",
    "RAYLINE_ARTIFACT_URI",
    "RAYLINE_ONLINE_STORE_URI",
    "RAY_ADDRESS",
    "MLFLOW_TRACKING_URI",
    "RAYLINE_USER",
    "RAYLINE_RAY_NUM_CPUS",
    "RAYLINE_RAY_VERBOSE",
    "RAYLINE_TRAINING_THREADS",
    "RAYLINE_DISTRIBUTED_MIN_CELLS",
    "RAYLINE_SERVE_HOST",
    "RAYLINE_SERVE_PORT",
    "RAYLINE_SERVE_FAST",
    "RAYLINE_SERVE_PROXY_LOCATION",
    "RAYLINE_EXECUTION_ID",
    "RAYLINE_STEP_NAME",
    "RAYLINE_WORK_DIR",
)


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults(clean_env):
    s = settings()
    home = (clean_env / ".rayline").resolve()
    cores = os.cpu_count() or 1
    assert s.home == home
    assert s.db_url == f"sqlite:///{home / 'rayline.db'}"
    assert s.artifact_uri == (home / "artifacts").as_uri()
    assert s.online_store_uri == f"sqlite:///{home / 'online-store.db'}"
    assert s.mlflow_tracking_uri == f"sqlite:///{home / 'mlflow.db'}"
    assert s.ray_address is None
    assert s.user  # the OS user
    assert s.ray_num_cpus == max(4, 2 * cores)
    assert s.ray_verbose is False
    assert s.training_threads == cores
    assert s.distributed_min_cells is None  # the ML layer's measured default applies
    assert (s.serve_host, s.serve_port, s.serve_fast) == ("127.0.0.1", 8000, True)
    assert (s.execution_id, s.step_name, s.work_dir) == (None, None, None)


def test_every_variable_is_read_when_asked(clean_env, monkeypatch):
    values = {
        "RAYLINE_USER": "carol",
        "RAYLINE_RAY_NUM_CPUS": "3",
        "RAYLINE_RAY_VERBOSE": "1",
        "RAYLINE_TRAINING_THREADS": "2",
        "RAYLINE_DISTRIBUTED_MIN_CELLS": "100",
        "RAYLINE_SERVE_HOST": "0.0.0.0",
        "RAYLINE_SERVE_PORT": "8123",
        "RAYLINE_SERVE_FAST": "0",
        "RAYLINE_EXECUTION_ID": "e1",
        "RAYLINE_STEP_NAME": "Prep",
        "RAYLINE_WORK_DIR": str(clean_env / "work"),
        "RAY_ADDRESS": "127.0.0.1:6379",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    s = settings()
    assert (s.user, s.ray_num_cpus, s.ray_verbose) == ("carol", 3, True)
    assert (s.training_threads, s.distributed_min_cells) == (2, 100)
    assert (s.serve_host, s.serve_port, s.serve_fast) == ("0.0.0.0", 8123, False)
    assert (s.execution_id, s.step_name, s.work_dir) == ("e1", "Prep", clean_env / "work")
    assert s.ray_address == "127.0.0.1:6379"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("RAYLINE_SERVE_PORT", "http", "RAYLINE_SERVE_PORT='http' is not a port number"),
        ("RAYLINE_SERVE_PORT", "65000", r"RAYLINE_SERVE_PORT=65000 is out of range \(1-64335\)"),
        ("RAYLINE_RAY_NUM_CPUS", "many", "RAYLINE_RAY_NUM_CPUS='many' is not a whole number"),
    ],
)
def test_a_value_that_does_not_parse_names_its_variable(
    clean_env, monkeypatch, name, value, message
):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        settings()


def test_only_config_reads_rayline_variables():
    """Every ``RAYLINE_*`` read goes through the settings object (the engine's per-step input and
    output slots aside: their names are data, set for the step's code)."""
    read = re.compile(r"""(environ\.get\(|getenv\(|environ\[)\s*f?["']RAYLINE_""")
    src = Path(rayline.__file__).parent
    readers = [
        f"{path.relative_to(src)}:{n}"
        for path in src.rglob("*.py")
        if path.name != "config.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if read.search(line)
    ]
    assert readers == []


def test_mlflow_on_postgresql_uses_psycopg3(clean_env, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql://u@db:5432/mlflow")
    assert settings().mlflow_tracking_uri == "postgresql+psycopg://u@db:5432/mlflow"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.internal:5000")
    assert settings().mlflow_tracking_uri == "http://mlflow.internal:5000"


def test_serve_proxy_location_defaults_to_the_head_only(clean_env, monkeypatch):
    # Nodes that share a machine's ports (or a cluster behind one address) need one proxy.
    assert settings().serve_proxy_location == "HeadOnly"
    monkeypatch.setenv("RAYLINE_SERVE_PROXY_LOCATION", "everynode")
    assert settings().serve_proxy_location == "EveryNode"
    monkeypatch.setenv("RAYLINE_SERVE_PROXY_LOCATION", "Disabled")
    assert settings().serve_proxy_location == "Disabled"
    monkeypatch.setenv("RAYLINE_SERVE_PROXY_LOCATION", "head")
    with pytest.raises(ConfigError, match=r"RAYLINE_SERVE_PROXY_LOCATION='head'.*HeadOnly"):
        settings()
