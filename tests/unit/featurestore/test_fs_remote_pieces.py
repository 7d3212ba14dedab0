"""The remote feature store's client-side pieces that need no server: cutting an input into
Parquet chunks under the upload cap, and a dataset the server stored where this machine cannot
read it."""

from __future__ import annotations

import io
import secrets

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rayline.errors import TooLargeError
from rayline.featurestore.remote import RemoteFeatureStore, _parquet_chunks
from rayline.remote.client import Client


def test_chunks_fit_the_budget_and_keep_the_rows_in_order():
    table = pa.table({"id": list(range(5000)), "text": [f"row-{i}" * 3 for i in range(5000)]})
    halves = [table.slice(0, 2500), table.slice(2500)]
    chunks = list(_parquet_chunks(iter(halves), 8000, cap=9000))
    assert len(chunks) > 4
    assert all(len(c) <= 8000 for c in chunks)
    back = pa.concat_tables(pq.read_table(io.BytesIO(c)) for c in chunks)
    assert back.column("id").to_pylist() == list(range(5000))


def test_an_empty_input_is_one_empty_chunk_and_a_row_over_the_cap_is_refused():
    empty = pa.table({"id": pa.array([], pa.int64())})
    chunks = list(_parquet_chunks(iter([empty]), 8000, cap=9000))
    assert len(chunks) == 1 and pq.read_table(io.BytesIO(chunks[0])).num_rows == 0
    wide = pa.table({"blob": [secrets.token_hex(25_000)]})  # incompressible
    with pytest.raises(TooLargeError, match="RAYLINE_SERVER_MAX_UPLOAD_MB"):
        list(_parquet_chunks(iter([wide]), 8000, cap=9000))


def test_a_stored_dataset_this_machine_cannot_read_names_its_uri(tmp_path):
    store = RemoteFeatureStore(Client("http://127.0.0.1:9", token=""))
    uri = (tmp_path / "elsewhere" / "dataset.parquet").as_uri()
    with pytest.raises(TooLargeError, match=r"wrote it to .*dataset\.parquet") as caught:
        store._stored_dataset({"uri": uri, "rows": 10, "bytes": 123})
    assert caught.value.uri == uri
