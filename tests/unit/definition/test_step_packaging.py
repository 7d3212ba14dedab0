"""Step packaging: a ProcessingStep's ``source_dir`` (snapshotted by content, part of the cache
key) and every step's Ray ``runtime_env`` (checked, kept in the definition, in the cache key)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import pytest

from rayline import PipelineDefinitionError
from rayline.definition import PipelineDefinition, source_dirs
from rayline.definition.source_dirs import SourceDirRef
from rayline.definition.steps import ProcessingOutput, ProcessingStep, step
from rayline.engine.environment import task_runtime_env
from rayline.engine.resolution import CacheKeyResolver, cache_key


@pytest.fixture
def src(tmp_path):
    root = tmp_path / "src"
    (root / "pkg").mkdir(parents=True)
    (root / "preprocess.py").write_text("import helpers\nhelpers.run()\n")
    (root / "helpers.py").write_text("def run():\n    print('v1')\n")
    (root / "pkg" / "__init__.py").write_text("")
    # What a snapshot leaves out: caches and version control.
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "helpers.cpython-311.pyc").write_bytes(b"\0junk")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / "stale.pyc").write_bytes(b"\0")
    return root


def _key(s: ProcessingStep) -> str:
    pipeline = PipelineDefinition("p", steps=[s])
    # The definition is what the scheduler reads back, so key the step parsed from it.
    parsed = PipelineDefinition.from_definition(pipeline.definition()).step(s.name)
    return cache_key(parsed, CacheKeyResolver(pipeline, "e1", 0.0, {}, {}, None))


def _prep(src, **kwargs) -> ProcessingStep:
    return ProcessingStep(
        "Prep",
        code="preprocess.py",
        source_dir=str(src),
        outputs=[ProcessingOutput("out")],
        **kwargs,
    )


# --- source_dir ---------------------------------------------------------------------------------
def test_source_dir_is_snapshotted_by_content_and_round_trips(src):
    prep = _prep(src)
    ref = prep.code_ref()
    assert isinstance(ref, SourceDirRef)
    assert ref.entry_point == "preprocess.py"
    assert ref.directory == str(src.resolve()) == prep.source_dir
    [(archive, suffix)] = prep.code_snapshots()
    assert suffix == ".tar"
    # The stored tar is named by its hash in the definition, and holds only the code.
    assert hashlib.sha256(archive).hexdigest() == ref.sha256
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert sorted(tar.getnames()) == ["helpers.py", "pkg/__init__.py", "preprocess.py"]
    definition = PipelineDefinition("p", steps=[prep]).definition()
    code = json.loads(definition)["Steps"][0]["Arguments"]["Rayline"]["Code"]
    assert code["SourceDir"] == str(src.resolve())
    assert code["EntryPoint"] == "preprocess.py"
    assert code["TreeSha256"] == ref.tree_sha256
    again = PipelineDefinition.from_definition(definition).step("Prep")
    assert again.code_ref() == ref
    assert again.source_dir == prep.source_dir
    assert PipelineDefinition("p", steps=[again]).definition() == definition


def test_the_snapshot_is_the_same_bytes_for_the_same_files(src, tmp_path):
    first = _prep(src).code_ref()
    # Touching files (new times) and adding ignored ones changes nothing.
    (src / "helpers.py").write_text((src / "helpers.py").read_text())
    (src / "__pycache__" / "other.pyc").write_bytes(b"x")
    assert _prep(src).code_ref() == first
    # The same files in another directory: the same content, hence the same snapshot and key.
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(src, copy)
    moved = _prep(copy)
    assert (moved.code_ref().sha256, moved.code_ref().tree_sha256) == (
        first.sha256,
        first.tree_sha256,
    )
    assert _key(moved) == _key(_prep(src))


def test_editing_any_file_of_the_source_dir_changes_the_cache_key(src):
    before = _key(_prep(src))
    assert _key(_prep(src)) == before  # nothing changed: the same key
    (src / "helpers.py").write_text("def run():\n    print('v2')\n")
    edited = _key(_prep(src))
    assert edited != before
    (src / "pkg" / "data.json").write_text("{}")
    assert _key(_prep(src)) not in (before, edited)
    # Caches and version control are not part of it.
    after_new_file = _key(_prep(src))
    (src / ".git" / "ORIG_HEAD").write_text("x")
    (src / "__pycache__" / "x.pyc").write_bytes(b"y")
    assert _key(_prep(src)) == after_new_file


def test_the_entry_point_is_part_of_the_cache_key(src):
    (src / "other.py").write_text("print('other')\n")
    other = ProcessingStep("Prep", code="other.py", source_dir=str(src))
    assert _key(other) != _key(ProcessingStep("Prep", code="preprocess.py", source_dir=str(src)))


def test_an_absolute_entry_script_inside_the_source_dir_is_accepted(src):
    prep = ProcessingStep("Prep", code=str(src / "pkg" / "__init__.py"), source_dir=str(src))
    assert prep.code_ref().entry_point == "pkg/__init__.py"


def test_a_snapshot_that_changed_since_the_definition_is_refused_at_upsert(src):
    # Upsert stores the snapshot only if it is still the one the definition names.
    prep = _prep(src)
    (src / "helpers.py").write_text("changed = True\n")
    [(archive, _)] = prep.code_snapshots()
    assert hashlib.sha256(archive).hexdigest() != prep.code_ref().sha256


def test_source_dir_errors_say_what_is_wrong(src, tmp_path):
    with pytest.raises(PipelineDefinitionError, match=r"source_dir .* does not exist"):
        ProcessingStep("Prep", code="preprocess.py", source_dir=str(tmp_path / "nope"))
    with pytest.raises(PipelineDefinitionError, match="is a file, not a directory"):
        ProcessingStep("Prep", code="preprocess.py", source_dir=str(src / "helpers.py"))
    with pytest.raises(PipelineDefinitionError, match="not inside source_dir"):
        ProcessingStep("Prep", code="../outside.py", source_dir=str(src))
    with pytest.raises(PipelineDefinitionError, match="not a file of source_dir"):
        ProcessingStep("Prep", code="missing.py", source_dir=str(src))
    with pytest.raises(PipelineDefinitionError, match="not a file of source_dir"):
        ProcessingStep("Prep", code="stale.pyc", source_dir=str(src))  # left out of snapshots
    with pytest.raises(PipelineDefinitionError, match="needs code= naming the entry script"):
        ProcessingStep("Prep", function=lambda ctx: None, source_dir=str(src))


def test_a_huge_source_dir_is_refused_with_the_fix(src, monkeypatch):
    monkeypatch.setattr(source_dirs, "MAX_SOURCE_DIR_BYTES", 1000)
    (src / "data.csv").write_bytes(b"x" * 2000)
    with pytest.raises(PipelineDefinitionError) as info:
        _prep(src)
    message = str(info.value)
    assert "'Prep'" in message and "data.csv" in message and "ProcessingInput" in message
    monkeypatch.setattr(source_dirs, "MAX_SOURCE_DIR_BYTES", 10**9)
    monkeypatch.setattr(source_dirs, "MAX_SOURCE_DIR_FILES", 2)
    with pytest.raises(PipelineDefinitionError, match="more than 2 files"):
        _prep(src)


# --- runtime_env --------------------------------------------------------------------------------
def test_runtime_env_round_trips_through_the_definition(src):
    env = {"pip": ["tabulate==0.9.0"], "env_vars": {"MODE": "fast"}}
    prep = _prep(src, runtime_env=env)
    plain = ProcessingStep("Other", code=str(src / "helpers.py"))
    definition = PipelineDefinition("p", steps=[prep, plain]).definition()
    doc = json.loads(definition)
    assert doc["Steps"][0]["RayRuntimeEnv"] == env
    assert "RayRuntimeEnv" not in doc["Steps"][1]
    again = PipelineDefinition.from_definition(definition)
    assert again.step("Prep").runtime_env == env
    assert again.step("Other").runtime_env == {}
    assert again.definition() == definition


def test_function_steps_take_a_runtime_env():
    @step(runtime_env={"env_vars": {"GREETING": "hi"}})
    def hello():
        return 1

    s = hello()
    assert s.runtime_env == {"env_vars": {"GREETING": "hi"}}
    doc = json.loads(PipelineDefinition("p", steps=[s]).definition())
    assert doc["Steps"][0]["RayRuntimeEnv"] == {"env_vars": {"GREETING": "hi"}}


def test_a_bad_runtime_env_fails_at_the_decorator():
    with pytest.raises(PipelineDefinitionError, match=r"'hello'.*'conda' is not supported"):

        @step(runtime_env={"conda": "env.yml"})
        def hello():
            return 1


@pytest.mark.parametrize(
    ("runtime_env", "message"),
    [
        (["pip"], "must be a dict"),
        ({"working_dir": "."}, "source_dir="),
        ({"py_modules": ["m"]}, "source_dir="),
        ({"conda": {}}, "pip requirements instead"),
        ({"nsight": "default"}, "takes 'pip' and 'env_vars'"),
        ({"pip": "requirements.txt"}, "list its lines"),
        ({"pip": ["tabulate", 3]}, "non-empty string"),
        ({"pip": [""]}, "non-empty string"),
        ({"pip": ["./mypkg"]}, "names a local file"),
        ({"pip": ["/wheels/x-1.0-py3-none-any.whl"]}, "names a local file"),
        ({"pip": ["x-1.0-py3-none-any.whl"]}, "names a local file"),
        ({"pip": {"pip_check": False}}, "takes 'packages'"),
        ({"pip": {"packages": ["a"], "pip_check": "no"}}, "True or False"),
        ({"env_vars": ["A=1"]}, "dict of names to strings"),
        ({"env_vars": {"THREADS": 4}}, "give '4'"),
        ({"env_vars": {"1BAD": "x"}}, "is invalid"),
        ({"env_vars": {"RAYLINE_DB_URL": "x"}}, "set by the engine"),
    ],
)
def test_bad_runtime_envs_are_refused_with_the_fix(src, runtime_env, message):
    with pytest.raises(PipelineDefinitionError, match=message) as info:
        ProcessingStep("Prep", code=str(src / "helpers.py"), runtime_env=runtime_env)
    assert "'Prep'" in str(info.value)


def test_good_runtime_envs_are_accepted(src):
    for runtime_env in (
        {"pip": ["tabulate==0.9.0", "requests>=2"]},
        {"pip": {"packages": ["tabulate"], "pip_check": False, "pip_version": "==24.0"}},
        {"pip": ["https://example.com/x-1.0-py3-none-any.whl"]},
        {"env_vars": {"AWS_REGION": "eu-west-1"}},
        None,
        {},
    ):
        ProcessingStep("Prep", code=str(src / "helpers.py"), runtime_env=runtime_env)


def test_runtime_env_is_part_of_the_cache_key(src):
    plain = _key(_prep(src))
    assert _key(_prep(src, runtime_env={})) == plain  # no runtime env: the key as before
    with_var = _key(_prep(src, runtime_env={"env_vars": {"MODE": "fast"}}))
    other_var = _key(_prep(src, runtime_env={"env_vars": {"MODE": "slow"}}))
    with_pip = _key(_prep(src, runtime_env={"pip": ["tabulate"]}))
    assert len({plain, with_var, other_var, with_pip}) == 4


def test_the_task_runtime_env_merges_the_kinds_and_the_steps():
    kind = {"env_vars": {"OMP_NUM_THREADS": "2", "A": "kind"}}
    step_env = {"env_vars": {"A": "step", "B": "b"}, "pip": ["tabulate"]}
    assert task_runtime_env(kind, step_env) == {
        "env_vars": {"OMP_NUM_THREADS": "2", "A": "step", "B": "b"},
        "pip": ["tabulate"],
    }
    assert task_runtime_env(None, step_env) == step_env
    assert kind == {"env_vars": {"OMP_NUM_THREADS": "2", "A": "kind"}}  # not modified


def test_upsert_stores_the_snapshot_and_describe_shows_the_environment(src, rayline_home, capsys):
    from rayline import Pipeline
    from rayline.cli.main import main
    from rayline.store.artifacts import open_artifact_store

    prep = _prep(src, runtime_env={"pip": ["tabulate"], "env_vars": {"MODE": "fast"}})
    Pipeline("packaging", steps=[prep]).upsert()
    # Stored by content, under the name the definition gives: what a node fetches.
    store = open_artifact_store()
    stored = store.get_bytes(store.uri_for("code", f"{prep.code_ref().sha256}.tar"))
    assert stored == prep.code_snapshots()[0][0]

    assert main(["pipeline", "describe", "packaging"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "environment" in out and "source_dir" in out  # the table may wrap the path
    assert "pip tabulate" in out and "env MODE" in out
    assert main(["pipeline", "describe", "packaging", "--json"]) == 0
    [described] = json.loads(capsys.readouterr().out)["steps"]
    assert described["runtime_env"] == {"pip": ["tabulate"], "env_vars": {"MODE": "fast"}}
    assert described["source_dir"] == str(src.resolve())
