"""Where ML code reads from: local paths are used in place, ``s3://`` URIs are told apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from rayline.errors import NotFoundError
from rayline.ml.sources import local_copy, ray_storage
from rayline.store.locations import is_remote, join, read_bytes, write_bytes
from rayline.store.s3 import environment_for


def test_local_paths_are_used_in_place(tmp_path):
    f = tmp_path / "a" / "model.ubj"
    write_bytes(f, b"abc")
    assert read_bytes(f) == b"abc" and read_bytes(f.as_uri()) == b"abc"
    assert local_copy(f.as_uri()) == f and local_copy(str(f), cached=True) == f
    with pytest.raises(NotFoundError, match="does not exist"):
        read_bytes(tmp_path / "missing")


def test_remote_or_not():
    assert is_remote("s3://bucket/key")
    assert not is_remote("/tmp/x") and not is_remote("file:///tmp/x")
    assert not is_remote(Path("relative/dir"))
    assert join("s3://b/p/", "m/model.ubj") == "s3://b/p/m/model.ubj"
    assert join("s3://b/p", "") == "s3://b/p"


def test_ray_storage_on_local_disk_has_no_filesystem(tmp_path):
    storage = ray_storage(tmp_path / "tune")
    assert (tmp_path / "tune").is_dir()
    assert storage.run_config() == {"storage_path": str((tmp_path / "tune").resolve())}


def test_s3_settings_travel_only_for_s3_locations(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
    assert environment_for(tmp_path, None) == {}
    env = environment_for(tmp_path, "s3://bucket/x")
    assert env["AWS_ACCESS_KEY_ID"] == "key"
    assert env["MLFLOW_S3_ENDPOINT_URL"] == "http://127.0.0.1:9"
