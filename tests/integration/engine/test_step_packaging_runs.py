"""Step packaging on a real local Ray: a ProcessingStep's ``source_dir`` is the script's working
directory and import root, fetched from the artifact store (local or S3), and its content is the
cache key; a step's ``runtime_env`` reaches its Ray task."""

from __future__ import annotations

import json
import textwrap

import pytest

from rayline import CacheConfig, Pipeline, step
from rayline.definition.steps import ProcessingOutput, ProcessingStep
from rayline.store import locations

pytestmark = pytest.mark.ray

# The entry script: it imports a module and a package of its directory, reads a data file by a
# relative path, starts a Python subprocess that imports from the directory too (PYTHONPATH),
# and reports what it saw.
PREPROCESS = """
import json, os, subprocess, sys

import helpers
from pkg.sub import VALUE

with open("config.txt") as f:
    config = f.read().strip()
child = subprocess.run(
    [sys.executable, "-c", "import helpers; print(helpers.version())"],
    capture_output=True, text=True, check=True,
).stdout.strip()
out = os.environ["RAYLINE_OUTPUT_OUT"]
with open(os.path.join(out, "result.json"), "w") as f:
    json.dump({
        "helper": helpers.version(), "package": VALUE, "config": config, "child": child,
        "cwd_has_script": os.path.isfile(os.path.join(os.getcwd(), "preprocess.py")),
        "argv": sys.argv[1:], "mode": os.environ.get("MODE"), "env": os.environ.get("FROM_ENV"),
    }, f)
print("helper", helpers.version())
"""


@pytest.fixture
def src(tmp_path):
    root = tmp_path / "src"
    (root / "pkg").mkdir(parents=True)
    (root / "preprocess.py").write_text(textwrap.dedent(PREPROCESS))
    (root / "helpers.py").write_text("def version():\n    return 'v1'\n")
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "sub.py").write_text("VALUE = 42\n")
    (root / "config.txt").write_text("from-config\n")
    return root


def _pipeline(src, **kwargs) -> Pipeline:
    prep = ProcessingStep(
        "Prep",
        code="preprocess.py",
        source_dir=str(src),
        arguments=["--n", 3],
        outputs=[ProcessingOutput("out")],
        cache_config=CacheConfig(enable_caching=True),
        **kwargs,
    )
    return Pipeline("packaging", steps=[prep])


def _result(execution) -> dict:
    assert execution.wait().status == "Succeeded", execution.step("Prep").failure_reason
    uri = execution.step("Prep").outputs["out"].rstrip("/") + "/result.json"
    return json.loads(locations.read_bytes(uri))


def _run_and_check_imports(src) -> None:
    pipeline = _pipeline(src, env={"FROM_ENV": "env"}, runtime_env={"env_vars": {"MODE": "fast"}})
    version = pipeline.upsert()
    # What runs is the snapshot taken at upsert, fetched from the store, not the directory.
    (src / "helpers.py").write_text("raise RuntimeError('the live directory was imported')\n")
    result = _result(pipeline.start(version=version))
    assert result == {
        "helper": "v1",
        "package": 42,
        "config": "from-config",
        "child": "v1",
        "cwd_has_script": True,
        "argv": ["--n", "3"],
        "mode": "fast",
        "env": "env",
    }


def test_a_source_dir_step_imports_from_its_directory(ray_session, rayline_home, src):
    _run_and_check_imports(src)


def test_a_source_dir_step_runs_from_an_s3_store(ray_session, s3_artifacts, src):
    # Nodes share no disk: on S3 the snapshot is downloaded to the node that runs the step.
    _run_and_check_imports(src)


def test_editing_a_file_of_the_source_dir_reruns_the_step(ray_session, rayline_home, src):
    first = _pipeline(src).start()
    assert _result(first)["helper"] == "v1"
    assert first.step("Prep").cached_from is None
    # The directory unchanged (touched, a cache file added): the step is reused.
    (src / "helpers.py").write_text((src / "helpers.py").read_text())
    (src / "__pycache__").mkdir(exist_ok=True)
    (src / "__pycache__" / "junk.pyc").write_bytes(b"\0")
    again = _pipeline(src).start()
    assert again.wait().status == "Succeeded"
    assert again.step("Prep").cached_from == first.id
    # A helper module edited: the step runs again, and imports the new helper (not the module
    # an earlier step left in the reused Ray worker).
    (src / "helpers.py").write_text("def version():\n    return 'v2'\n")
    edited = _pipeline(src).start()
    assert _result(edited)["helper"] == "v2"
    assert edited.step("Prep").cached_from is None
    # Another runtime env is another key too.
    other_env = _pipeline(src, runtime_env={"env_vars": {"MODE": "slow"}}).start()
    assert _result(other_env)["mode"] == "slow"
    assert other_env.step("Prep").cached_from is None


def test_runtime_env_vars_reach_a_function_step(ray_session, rayline_home):
    @step(runtime_env={"env_vars": {"GREETING": "hello", "OMP_NUM_THREADS": "3"}})
    def greet():
        import os

        return os.environ.get("GREETING"), os.environ.get("OMP_NUM_THREADS")

    @step
    def plain():
        import os

        return os.environ.get("GREETING")

    execution = Pipeline("env-vars", steps=[greet(), plain()]).start()
    assert execution.wait().status == "Succeeded"
    assert execution.result("greet") == ["hello", "3"]
    # Another step's worker does not see them.
    assert execution.result("plain") is None


@pytest.mark.slow  # Ray clones the environment and runs pip: tens of seconds
def test_runtime_env_pip_installs_a_package_for_the_step(ray_session, rayline_home):
    # Ray clones the cluster's environment with virtualenv (a rayline dependency), then
    # installs into the clone from the configured package index.
    with pytest.raises(ImportError):  # it must come from the runtime env, not from here
        import termcolor  # noqa: F401

    @step(runtime_env={"pip": ["termcolor"]})
    def colour():
        import termcolor

        return termcolor.colored("ok", "green", force_color=True)

    execution = Pipeline("pip-env", steps=[colour()]).start()
    assert execution.wait(timeout=600).status == "Succeeded"
    assert execution.result("colour") == "\x1b[32mok\x1b[0m"


@pytest.mark.slow  # Ray clones the environment and runs pip: tens of seconds
def test_a_requirement_pip_cannot_install_fails_the_step_with_pips_error(ray_session, rayline_home):
    @step(runtime_env={"pip": ["rayline-no-such-package-xyz"]})
    def needs_missing():
        return 1

    @step
    def after(x):
        return x

    execution = Pipeline("pip-missing", steps=[after(needs_missing())]).start()
    record = execution.wait(timeout=600, raise_on_failure=False)
    # The step fails (not the driver), with what pip said.
    assert record.status == "Failed"
    run = execution.step("needs_missing")
    assert run.status.value == "Failed"
    assert "runtime_env of step 'needs_missing' could not be set up" in run.failure_reason
    assert "rayline-no-such-package-xyz" in run.failure_reason
    assert "pipeline driver failed" not in (record.failure_reason or "")
    assert {r.step_name for r in execution.list_steps()} == {"needs_missing"}
