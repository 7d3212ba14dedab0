"""The SQL sandbox every user's SQL runs in (``query``, ``query_arrow``, ``rayline query``, the
server's ``POST /sql``): one read-only SELECT over the feature groups' views works; files,
COPY, ATTACH, extensions, settings, PRAGMA, several statements and writes are refused before
or while they run, saying so; a query past its timeout is stopped and the next one works; the
row cap truncates and says so."""

from __future__ import annotations

import time

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rayline.errors import ConfigError, UserInputError
from rayline.featurestore import FeatureGroup, load_feature_definitions, query, query_arrow, sandbox

ONLY = "only one read-only SELECT"


@pytest.fixture
def prices(rayline_home):
    df = pd.DataFrame(
        {
            "record_id": [1, 2, 3],
            "event_time": [1_700_000_000.0, 1_700_000_100.0, 1_700_000_200.0],
            "price": [10.0, 20.0, 30.0],
        }
    )
    fg = FeatureGroup("house-prices", load_feature_definitions(df))
    fg.create(record_identifier_name="record_id", event_time_feature_name="event_time")
    assert fg.ingest(df).ok
    return fg


def test_a_select_over_a_group_works(prices):
    df = query('SELECT record_id, price FROM "house-prices" ORDER BY record_id')
    assert df["price"].tolist() == [10.0, 20.0, 30.0]
    table = query_arrow('WITH p AS (SELECT * FROM "house-prices") SELECT sum(price) AS s FROM p')
    assert table.column("s").to_pylist() == [60.0]
    result = sandbox.select('FROM "house-prices" SELECT count(*) AS n')
    assert result.table.column("n").to_pylist() == [3] and not result.truncated


#: What must be refused ({out}: a path outside the store, {other}: a Parquet file there,
#: {home}: RAYLINE_HOME, {store}: the group's offline data directory, which the views read).
REFUSED = [
    "COPY (SELECT 1) TO '{out}'",
    "COPY \"house-prices\" TO '{store}/stolen.parquet'",  # even into the store's directory
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('{home}/rayline.db')",
    "SELECT * FROM read_parquet('{other}')",
    "SELECT * FROM '{other}'",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM glob('{home}/*')",
    "ATTACH '{home}/rayline.db' AS meta (TYPE sqlite)",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "SET memory_limit = '100GB'",
    "RESET lock_configuration",
    "PRAGMA version",
    "PRAGMA database_list",
    "SELECT 1; SELECT 2",
    "SELECT 1; COPY \"house-prices\" TO '{out}'",
    'DELETE FROM "house-prices"',
    'DROP VIEW "house-prices"',
    "CREATE TABLE t AS SELECT 1",
    "CALL pragma_version()",
    "EXPLAIN ANALYZE SELECT 1",
    "",
]


def test_anything_but_one_select_over_the_views_is_refused(prices, rayline_home, tmp_path):
    store = prices.offline_store_uri.removeprefix("file://")
    out = tmp_path / "out.csv"
    other = tmp_path / "other.parquet"  # a real file outside the store
    pq.write_table(pa.table({"secret": ["s3cr3t"]}), other)
    for sql in REFUSED:
        text = sql.format(out=out, other=other, home=rayline_home, store=store)
        for run in (query, query_arrow):
            with pytest.raises(UserInputError, match=ONLY) as refused:
                run(text)
            assert "Traceback" not in str(refused.value), text
        assert not out.exists(), text
    # Nothing was written or changed: the group reads as before.
    assert query('SELECT count(*) AS n FROM "house-prices"')["n"][0] == 3
    assert not any(p.name == "stolen.parquet" for p in (rayline_home / "artifacts").rglob("*"))


def test_the_connection_is_locked_even_past_the_statement_check(prices):
    con = sandbox.open_sandbox()
    try:
        assert con.sql('SELECT count(*) FROM "house-prices"').fetchall() == [(3,)]
        for statement in (
            "SET enable_external_access = true",
            "SET lock_configuration = false",
            "SET allowed_directories = ['/']",
        ):
            with pytest.raises(Exception, match="locked"):
                con.execute(statement)
        with pytest.raises(Exception, match="disabled by configuration"):
            con.sql("SELECT * FROM read_csv('/etc/passwd')").fetchall()
    finally:
        con.close()


def test_a_query_past_the_timeout_is_stopped_and_the_next_one_runs(prices, monkeypatch):
    monkeypatch.setenv("RAYLINE_SQL_TIMEOUT_S", "0.5")
    started = time.monotonic()
    with pytest.raises(UserInputError, match=r"ran longer than 0.5 s"):
        query("SELECT count(*) FROM range(1000000000) a, range(1000000000) b")
    assert time.monotonic() - started < 10
    assert query('SELECT count(*) AS n FROM "house-prices"')["n"][0] == 3


def test_the_timeout_interrupts_only_a_running_statement(prices):
    con = sandbox.open_sandbox()
    try:
        (rows, truncated) = sandbox.run_select(
            con, "SELECT 1 AS one", fetch=lambda rel: rel.fetchall(), timeout_s=0.05
        )
        assert rows == [(1,)] and not truncated
        time.sleep(0.2)  # the deadline passed after the statement ended: nothing happens
        assert con.sql("SELECT 2").fetchall() == [(2,)]
    finally:
        con.close()


def test_the_row_cap_truncates_and_says_so(prices):
    capped = sandbox.select("SELECT * FROM range(100) t(i)", max_rows=7)
    assert capped.table.column("i").to_pylist() == list(range(7)) and capped.truncated
    exact = sandbox.select('SELECT * FROM "house-prices"', max_rows=3)
    assert exact.table.num_rows == 3 and not exact.truncated
    assert sandbox.select("SELECT 1 AS one").truncated is False


def test_limits_come_from_the_environment(monkeypatch):
    assert (sandbox.sql_timeout_s(), sandbox.sql_max_rows()) == (30.0, 10_000)
    monkeypatch.setenv("RAYLINE_SQL_TIMEOUT_S", "2.5")
    monkeypatch.setenv("RAYLINE_SQL_MAX_ROWS", "50")
    assert (sandbox.sql_timeout_s(), sandbox.sql_max_rows()) == (2.5, 50)
    for name, bad in (("RAYLINE_SQL_TIMEOUT_S", "-1"), ("RAYLINE_SQL_MAX_ROWS", "lots")):
        monkeypatch.setenv(name, bad)
        with pytest.raises(ConfigError, match=name):
            sandbox.sql_timeout_s() if "TIMEOUT" in name else sandbox.sql_max_rows()
        monkeypatch.delenv(name)


def test_the_cli_query_runs_in_the_sandbox(prices, capsys, tmp_path):
    from rayline.cli.main import main

    assert main(["query", 'SELECT count(*) AS n FROM "house-prices"', "--json"]) == 0
    assert '"n": 3' in capsys.readouterr().out
    out = tmp_path / "leak.csv"
    assert main(["query", f"COPY (SELECT * FROM read_csv('/etc/passwd')) TO '{out}'"]) == 1
    assert ONLY in capsys.readouterr().err
    assert not out.exists()
    assert main(["query", "SELECT * FROM read_csv('/etc/passwd')"]) == 1
    assert "disabled by configuration" in capsys.readouterr().err
