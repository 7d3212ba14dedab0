"""``rayline pipeline upsert`` given a broken file: one clear error naming the file (and the
line where there is one), exit code 1, no traceback from inside the loader, nothing stored."""

from __future__ import annotations

import re

import pytest

from rayline.cli.main import main

CASES = [
    pytest.param(
        "flow.py",
        "from rayline import Pipeline\n\ndef build(:\n    pass\n",
        r"flow\.py, line 3: .*a syntax error",
        id="syntax-error",
    ),
    pytest.param(
        "flow.py",
        "answer = 42\n",
        r"flow\.py must define exactly one Pipeline \(found: none\)",
        id="no-pipeline",
    ),
    pytest.param(
        "flow.py",
        "def settings():\n    return {}['bucket']\n\n\nBUCKET = settings()\n",
        r"flow\.py, line 2: the module raised KeyError: 'bucket'",
        id="raises-at-import",
    ),
    pytest.param(
        "flow.py",
        "def get_pipeline():\n    raise RuntimeError('no data yet')\n",
        r"flow\.py, line 2: the module raised RuntimeError: no data yet",
        id="get-pipeline-raises",
    ),
    pytest.param("flow.json", "{not json", r"flow\.json: .*not valid JSON", id="bad-json"),
    pytest.param(None, None, r"pipeline file .*missing\.py does not exist", id="no-such-file"),
]


@pytest.mark.parametrize(("name", "source", "error"), CASES)
def test_upsert_of_a_broken_file(rayline_home, tmp_path, capsys, name, source, error):
    if name is None:
        path = tmp_path / "missing.py"
    else:
        path = tmp_path / name
        path.write_text(source)
    assert main(["pipeline", "upsert", str(path)]) == 1
    err = " ".join(capsys.readouterr().err.split())  # rich wraps long lines
    assert re.search(error, err), err
    assert str(tmp_path) in err and "Traceback" not in err
    assert main(["pipeline", "list", "--json"]) == 0
    assert capsys.readouterr().out.strip() == "[]"
