"""``rayline pipeline import``: a definition the SageMaker SDK wrote is stored as a pipeline,
with what was imported and what was recorded but not applied printed; an unmappable one is one
clear error. (Running an imported pipeline: tests/integration/sagemaker.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).parents[1] / "fixtures" / "sagemaker"
RAYLINE = str(Path(sys.executable).with_name("rayline"))
MAP = f"s3://sagemaker-us-east-1-111122223333/abalone={FIXTURES}"


def rayline(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [RAYLINE, *args], env=dict(os.environ), capture_output=True, text=True, timeout=120
    )


def test_pipeline_import_stores_the_definition_and_reports_what_is_not_applied(rayline_home):
    text = rayline("pipeline", "import", str(FIXTURES / "abalone.json"), "--map", MAP)
    assert text.returncode == 0, text.stderr
    assert "imported abalone as version 1: 5 steps" in text.stdout
    assert "recorded but not applied" in text.stdout
    assert "step 'PreprocessAbaloneData': AppSpecification.ImageUri" in text.stdout

    again = rayline(
        "pipeline",
        "import",
        str(FIXTURES / "conditions.json"),
        "--name",
        "gate",
        "--map",
        MAP,
        "--json",
    )
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    assert (result["name"], result["version"]) == ("gate", 1)
    assert result["steps"] == ["Gate", "Check", "Refuse"]
    assert any("RoleArn" in line for line in result["not_applied"])

    stored = json.loads(rayline("pipeline", "definition", "abalone").stdout)
    assert [s["Name"] for s in stored["Steps"]][:2] == [
        "PreprocessAbaloneData",
        "EvaluateAbaloneModel",
    ]

    bad = json.loads((FIXTURES / "abalone.json").read_text())
    bad["Steps"][0]["Arguments"]["AppSpecification"]["ContainerEntrypoint"] = ["java", "-jar"]
    bad["Steps"].append({"Name": "Score", "Type": "Transform", "Arguments": {}})
    path = rayline_home.parent / "bad.json"
    path.write_text(json.dumps(bad))
    refused = rayline("pipeline", "import", str(path), "--map", MAP)
    assert refused.returncode != 0
    assert "step 'PreprocessAbaloneData': AppSpecification.ContainerEntrypoint" in refused.stderr
    assert "step 'Score': Type 'Transform'" in refused.stderr
