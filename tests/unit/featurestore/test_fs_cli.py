"""The feature store CLI, run in-process: create, list, describe, ingest, get-record, query,
update and delete, with --json where scripts need it."""

from __future__ import annotations

import json

import pandas as pd

from rayline.cli.main import main


def _csv(tmp_path, rows=5, bad=False):
    df = pd.DataFrame(
        {
            "id": [f"h{i}" for i in range(rows)],
            "at": [f"2024-05-01T0{i}:00:00Z" for i in range(rows)],
            "price": [100.0 * i for i in range(rows)],
        }
    )
    if bad:
        df["price"] = df["price"].astype(object)
        df.loc[2, "price"] = "cheap"
    path = tmp_path / ("bad.csv" if bad else "in.csv")
    df.to_csv(path, index=False)
    return path


def test_cli_round_trip(rayline_home, tmp_path, capsys):
    csv = _csv(tmp_path)
    assert (
        main(
            [
                "feature-group",
                "create",
                "houses",
                "--record-identifier",
                "id",
                "--event-time",
                "at",
                "--from-file",
                str(csv),
                "--tag",
                "team=ml",
            ]
        )
        == 0
    )
    assert "houses" in capsys.readouterr().out

    assert main(["ingest", "houses", str(csv), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["online_rows_written"] == 5 and report["rejected"] == []

    assert main(["get-record", "houses", "h3", "--feature", "price", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"price": 300.0}
    assert main(["get-record", "houses", "nope"]) == 1
    assert "no record 'nope'" in capsys.readouterr().err

    assert main(["query", 'SELECT count(*) AS n, max(price) AS top FROM "houses"', "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"n": 5, "top": 400.0}]

    assert main(["ingest", "houses", str(_csv(tmp_path, bad=True))]) == 1
    out = capsys.readouterr().out
    assert "1 rejected rows" in out and "'cheap'" in out

    assert main(["feature-group", "update", "houses", "--add-feature", "colour:String"]) == 0
    capsys.readouterr()
    assert main(["feature-group", "describe", "houses", "--json"]) == 0
    desc = json.loads(capsys.readouterr().out)
    assert desc["tags"] == {"team": "ml"}
    assert desc["feature_definitions"][-1] == {"FeatureName": "colour", "FeatureType": "String"}
    assert (
        desc["online_record_count"] == 5 and desc["offline_record_count"] == 5
    )  # the rest were duplicates

    assert main(["feature-group", "list", "--json"]) == 0
    assert [g["name"] for g in json.loads(capsys.readouterr().out)] == ["houses"]
    assert main(["feature-group", "delete", "houses"]) == 0
    assert main(["feature-group", "describe", "houses"]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_cli_create_needs_features(rayline_home, capsys):
    assert (
        main(["feature-group", "create", "g", "--record-identifier", "id", "--event-time", "t"])
        == 1
    )
    assert "--feature NAME:TYPE" in capsys.readouterr().err
    assert (
        main(
            [
                "feature-group",
                "create",
                "g",
                "--record-identifier",
                "id",
                "--event-time",
                "t",
                "--feature",
                "id:String",
                "--feature",
                "t:Timestamp",
            ]
        )
        == 1
    )
    assert "Integral, Fractional, String" in capsys.readouterr().err
