"""Which settings a multi-node Ray cluster refuses (the pure check, no Ray)."""

from __future__ import annotations

import dataclasses

import pytest

from rayline.cli.render import placement, short_node
from rayline.config import settings
from rayline.ray_connection import node_local_settings

CLUSTER_READY = dict(
    db_url="postgresql+psycopg://postgres@db:5432/rayline",
    online_store_uri="redis://cache:6379/0",
    mlflow_tracking_uri="postgresql+psycopg://postgres@db:5432/mlflow",
    artifact_uri="s3://bucket/rayline",
)


def config(**changes):
    return dataclasses.replace(settings(), **{**CLUSTER_READY, **changes})


def test_a_cluster_ready_configuration_passes():
    assert node_local_settings(config(), nodes=3) == []


def test_one_node_refuses_nothing():
    # The defaults (SQLite everywhere in RAYLINE_HOME) are right for one machine.
    assert node_local_settings(settings(), nodes=1) == []


@pytest.mark.parametrize(
    ("change", "names", "advice"),
    [
        ({"db_url": "sqlite:////home/me/rayline.db"}, "RAYLINE_DB_URL", "PostgreSQL"),
        ({"online_store_uri": "sqlite:////tmp/online.db"}, "RAYLINE_ONLINE_STORE_URI", "redis://"),
        ({"mlflow_tracking_uri": "sqlite:////tmp/mlflow.db"}, "MLFLOW_TRACKING_URI", "PostgreSQL"),
        ({"mlflow_tracking_uri": "file:///tmp/mlruns"}, "MLFLOW_TRACKING_URI", "/mlflow"),
        ({"mlflow_tracking_uri": "/tmp/mlruns"}, "MLFLOW_TRACKING_URI", "database of its own"),
        (
            {"mlflow_tracking_uri": "postgresql://postgres@db/rayline"},
            "same database as RAYLINE_DB_URL",
            "alembic_version",
        ),
    ],
)
def test_node_local_settings_are_named_with_what_to_use(change, names, advice):
    problems = node_local_settings(config(**change), nodes=2)
    assert len(problems) == 1, problems
    assert names in problems[0] and advice in problems[0], problems[0]


def test_every_problem_is_reported_at_once():
    problems = node_local_settings(settings(), nodes=2)  # the single-machine defaults
    assert [p.split(" ", 1)[0] for p in problems] == [
        "RAYLINE_DB_URL",
        "RAYLINE_ONLINE_STORE_URI",
        "MLFLOW_TRACKING_URI",
    ]


def test_a_file_artifact_store_is_left_to_the_probe():
    assert node_local_settings(config(artifact_uri="file:///shared/artifacts"), nodes=2) == []


def test_placement_and_node_as_the_cli_shows_them():
    assert placement({"worker": 0.1, "a": 2.0}) == "a=2, worker=0.1"
    assert placement({}) == ""
    assert short_node("f" * 56) == "f" * 12 and short_node(None) == ""


def test_rayline_up_refuses_while_the_api_goes_through_a_server(monkeypatch, capsys):
    # Before Ray starts: `up` serves this machine's own endpoints, not the server's.
    from rayline.cli.main import main

    monkeypatch.setenv("RAYLINE_SERVER_URL", "http://rayline.internal:8080")
    assert main(["up"]) == 1
    assert "Unset RAYLINE_SERVER_URL to run rayline up here" in capsys.readouterr().err
