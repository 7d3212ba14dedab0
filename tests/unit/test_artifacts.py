from __future__ import annotations

import pytest

from rayline.errors import ConfigError, NotFoundError
from rayline.store.artifacts import content_hash, open_artifact_store


def test_content_addressed_storage_and_hashing(tmp_path):
    store = open_artifact_store((tmp_path / "a").as_uri())
    digest, uri = store.put_content(b"print(1)\n", kind="code", suffix=".py")
    assert uri.endswith(f"code/{digest}.py") and store.get_bytes(uri) == b"print(1)\n"
    assert store.put_content(b"print(1)\n", kind="code", suffix=".py") == (digest, uri)

    folder = tmp_path / "data"
    (folder / "sub").mkdir(parents=True)
    (folder / "x.parquet").write_bytes(b"1")
    (folder / "sub" / "y.parquet").write_bytes(b"2")
    before = content_hash(folder)
    (folder / ".hidden.tmp").write_bytes(b"partial")  # in-flight temp files do not count
    assert content_hash(folder) == before
    (folder / "sub" / "y.parquet").write_bytes(b"3")
    assert content_hash(folder) != before


def test_errors(tmp_path):
    store = open_artifact_store(str(tmp_path))
    with pytest.raises(NotFoundError):
        store.get_bytes(store.uri_for("missing"))
    with pytest.raises(ConfigError, match="'gs' scheme is not supported"):
        open_artifact_store("gs://bucket/prefix")
