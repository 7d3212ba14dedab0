"""`rayline up` / `rayline down`: a background Ray that outlives the command, stopped cleanly."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from rayline.serving.cluster import _session_pids

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def test_up_then_down(rayline_home, monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    cli = [sys.executable, "-m", "rayline.cli.main"]
    env = {**os.environ, "RAYLINE_RAY_NUM_CPUS": "1"}
    up = subprocess.run(
        [*cli, "up", "--json"], capture_output=True, text=True, env=env, timeout=120
    )
    assert up.returncode == 0, up.stderr
    info = json.loads(up.stdout)
    try:
        assert info["started"] is True and info["endpoints"] == []
        assert (rayline_home / "ray-address").read_text().strip() == info["address"]
        # The command exited; its Ray keeps running in its own session.
        assert info["pid"] in _session_pids(info["pid"])
        again = subprocess.run(
            [*cli, "up", "--json", "--no-restore"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert json.loads(again.stdout)["started"] is False
    finally:
        down = subprocess.run([*cli, "down"], capture_output=True, text=True, env=env, timeout=60)
    assert down.returncode == 0 and "local Ray stopped" in down.stdout
    assert _session_pids(info["pid"]) == []
    assert not (rayline_home / "ray-address").exists()
    second = subprocess.run([*cli, "down"], capture_output=True, text=True, env=env)
    assert "no local Ray was running" in second.stdout
