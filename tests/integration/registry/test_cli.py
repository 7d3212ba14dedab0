"""``rayline model`` and ``rayline lineage`` through the CLI entry point (metadata DB only)."""

from __future__ import annotations

import json
import subprocess
import sys

from rayline.cli.main import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_register_approve_describe_delete(rayline_home, tiny_model, capsys, monkeypatch):
    code, out, _ = run(
        capsys,
        "model",
        "register",
        "housing",
        "--model",
        str(tiny_model / "model.ubj"),
        "--preprocessor",
        str(tiny_model / "preprocessor.json"),
        "--metrics",
        str(tiny_model / "evaluation"),
    )
    assert code == 0 and "registered housing/1 (PendingManualApproval)" in out
    monkeypatch.setenv("RAYLINE_USER", "carol")
    code, out, _ = run(capsys, "model", "approve", "housing/1", "--reason", "rmse ok")
    assert code == 0 and "housing/1 is now Approved" in out
    code, out, _ = run(capsys, "model", "describe", "housing/1", "--json")
    described = json.loads(out)
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["ApprovalHistory"][-1]["By"] == "carol"
    assert described["ApprovalHistory"][-1]["Reason"] == "rmse ok"
    code, out, _ = run(capsys, "model", "list", "housing")
    assert "housing/1" in out and "Approved" in out
    code, out, _ = run(capsys, "lineage", "housing/1", "--json")
    lineage = json.loads(out)
    assert lineage["focus"]["id"] == "model:housing/1"
    assert {e["relation"] for e in lineage["upstream"]} == {"model", "preprocessor", "metrics"}
    # Errors are one line, exit code 1.
    code, _, err = run(capsys, "model", "approve", "housing/1")
    assert code == 1 and "ConflictError" in err and "Approved already" in err
    code, _, err = run(capsys, "model", "delete", "housing")
    assert code == 1 and "--force" in err
    code, out, _ = run(capsys, "model", "delete", "housing", "--force")
    assert code == 0 and "and its 1 version(s)" in out
    code, out, _ = run(capsys, "model", "groups", "--json")
    assert json.loads(out) == []


def test_endpoint_create_needs_a_long_lived_ray(rayline_home, tiny_model, monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    cli = [sys.executable, "-m", "rayline.cli.main"]
    subprocess.run(
        [
            *cli,
            "model",
            "register",
            "housing",
            "--model",
            str(tiny_model / "model.ubj"),
            "--preprocessor",
            str(tiny_model / "preprocessor.json"),
            "--status",
            "Approved",
        ],
        check=True,
        capture_output=True,
    )
    result = subprocess.run(
        [*cli, "endpoint", "create", "ep", "housing/1"], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "rayline up" in result.stderr and "would stop when the command exits" in result.stderr
