"""A file input downloaded from S3 keeps its own name, as SageMaker downloads it: a script
imported from the SDK that reads ``/opt/ml/processing/input/data.csv`` finds it (no Ray here,
only the local S3 server)."""

from __future__ import annotations

from rayline.engine.staging import materialize_input
from rayline.store import locations
from rayline.store.artifacts import open_artifact_store


def _upload(tmp_path, uri: str, text: str) -> None:
    local = tmp_path / "upload.txt"
    local.write_text(text)
    locations.upload(local, uri)


def test_a_downloaded_file_keeps_its_name_and_a_prefix_is_the_directory(
    s3_bucket, rayline_home, tmp_path
):
    _upload(tmp_path, f"{s3_bucket}/raw/data.csv", "a,b\n1,2\n")
    _upload(tmp_path, f"{s3_bucket}/raw/more/part-0.csv", "a,b\n3,4\n")
    store = open_artifact_store(f"file://{tmp_path / 'store'}")

    file_input = materialize_input(
        f"{s3_bucket}/raw/data.csv", tmp_path / "in" / "raw", store=store
    )
    assert file_input == tmp_path / "in" / "raw" / "data.csv"
    assert file_input.read_text() == "a,b\n1,2\n"

    tree = materialize_input(f"{s3_bucket}/raw/more", tmp_path / "in" / "more", store=store)
    assert tree == tmp_path / "in" / "more"
    assert (tree / "part-0.csv").read_text() == "a,b\n3,4\n"


def test_a_file_in_an_s3_artifact_store_keeps_its_name(s3_artifacts, tmp_path):
    store = open_artifact_store(s3_artifacts)
    uri = f"{s3_artifacts}/runs/x/model/model.json"
    _upload(tmp_path, uri, "{}")
    local = materialize_input(uri, tmp_path / "in" / "model", store=store)
    assert local == tmp_path / "in" / "model" / "model.json"
    assert local.read_text() == "{}"
