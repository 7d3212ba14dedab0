"""The artifact-store suite: every backend (``file://`` and ``s3://`` on a real S3-protocol server
over HTTP) passes the same tests."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rayline.errors import ConfigError, NotFoundError
from rayline.store.artifacts import Manifest, content_hash, open_artifact_store


@pytest.fixture(params=["file", "s3"])
def store(request, tmp_path):
    if request.param == "file":
        return open_artifact_store((tmp_path / "artifacts").as_uri())
    bucket = request.getfixturevalue("s3_bucket")
    return open_artifact_store(f"{bucket}/some/prefix")


def _tree(root):
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"alpha")
    (root / "sub" / "b.bin").write_bytes(bytes(range(256)) * 1000)
    (root / ".in-flight.tmp").write_bytes(b"not part of the tree")
    return root


def test_bytes_round_trip_and_content_addressing(store):
    uri = store.put_bytes(b"hello", "x", "greeting.txt")
    assert uri == store.uri_for("x", "greeting.txt") and store.contains(uri)
    assert store.get_bytes(uri) == b"hello" and store.exists(uri)
    digest, code_uri = store.put_content(b"print(1)\n", kind="code", suffix=".py")
    assert code_uri.endswith(f"code/{digest}.py") and store.get_bytes(code_uri) == b"print(1)\n"
    assert store.put_content(b"print(1)\n", kind="code", suffix=".py") == (digest, code_uri)
    assert store.content_hash(code_uri) == digest
    store.put_bytes(b"bye", "x", "greeting.txt")  # overwriting replaces whole
    assert store.get_bytes(uri) == b"bye"


def test_missing_artifacts_are_not_found(store, tmp_path):
    scratch = tmp_path / "scratch"
    missing = store.uri_for("nothing", "here")
    assert not store.exists(missing)
    with pytest.raises(NotFoundError, match="does not exist"):
        store.get_bytes(missing)
    with pytest.raises(NotFoundError):
        store.download(missing, scratch / "never")
    assert not (scratch / "never").exists()
    assert store.list_files(missing) == []
    store.delete(missing)  # deleting nothing is fine


def test_tree_upload_manifest_matches_the_stored_content(store, tmp_path):
    local = _tree(tmp_path / "out")
    uri = store.uri_for("executions", "e1", "step", "output", "train")
    manifest = store.upload(local, uri)
    assert isinstance(manifest, Manifest) and manifest.uri == uri
    assert [e.path for e in manifest.entries] == ["a.txt", "sub/b.bin"]
    assert manifest.size == 5 + 256_000
    # The hash recorded at upload is the stored tree's hash, and the local tree's.
    assert manifest.sha256 == store.content_hash(uri) == content_hash(local)
    assert store.list_files(uri) == ["a.txt", "sub/b.bin"]
    assert Manifest.from_dict(manifest.to_dict()) == manifest

    back = store.download(uri, tmp_path / "back")
    assert (back / "sub" / "b.bin").read_bytes() == (local / "sub" / "b.bin").read_bytes()
    assert content_hash(back) == manifest.sha256

    # Uploading again replaces the tree: a file gone from the source is gone from the store.
    (local / "a.txt").unlink()
    again = store.upload(local, uri)
    assert store.list_files(uri) == ["sub/b.bin"] and again.sha256 == store.content_hash(uri)
    assert again.sha256 != manifest.sha256

    store.delete(uri)
    assert not store.exists(uri) and store.list_files(uri) == []


def test_single_file_upload_and_materialize(store, tmp_path):
    (tmp_path / "model.ubj").write_bytes(b"\x00model")
    uri = store.uri_for("models", "model.ubj")
    manifest = store.upload(tmp_path / "model.ubj", uri)
    assert manifest.sha256 == store.content_hash(uri) == content_hash(tmp_path / "model.ubj")
    local = store.materialize(uri, tmp_path / "scratch" / "model.ubj")
    assert local.read_bytes() == b"\x00model"


def test_pyarrow_reads_and_writes_through_the_store_filesystem(store, tmp_path):
    table = pa.table({"x": [1, 2, 3], "y": ["a", "b", "c"]})
    fs, path = store.filesystem(store.uri_for("offline", "part-0.parquet"))
    pq.write_table(table, path, filesystem=fs)
    fs, folder = store.filesystem(store.uri_for("offline"))
    assert pq.read_table(folder, filesystem=fs).equals(table)
    assert store.list_files(store.uri_for("offline")) == ["part-0.parquet"]


def test_unsupported_scheme_is_a_clear_error():
    with pytest.raises(ConfigError, match="'gs' scheme is not supported"):
        open_artifact_store("gs://bucket/prefix")


def test_a_missing_bucket_is_one_clear_error_at_open(s3_bucket):
    with pytest.raises(ConfigError, match="bucket 'rayline-no-such-bucket' does not exist"):
        open_artifact_store("s3://rayline-no-such-bucket/prefix")


def test_an_unreachable_server_is_one_clear_error_at_open(s3_bucket, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(ConfigError, match=r"cannot reach bucket .* AWS_ENDPOINT_URL_S3"):
        open_artifact_store(f"{s3_bucket}/prefix")
