"""Studio's feature groups in a real browser against a real server (authentication on): a group
created and fed with the Python API is listed with its counts; its page shows the schema, the
online and offline counts and sample rows; a record is looked up by identifier (a hit, and a miss
saying so); the SQL box runs a SELECT through the sandbox (columns, row count, elapsed time, the
truncated flag at the row cap) as a viewer, and shows the sandbox's refusal of a DELETE, a syntax
error and an unknown table with their 400, the query kept in the box. A forged form is refused."""

from __future__ import annotations

import re

import pandas as pd
import pytest

pytestmark = [pytest.mark.ray, pytest.mark.server]

GROUP = "houses"
SQL_PATH = f"/studio/feature-groups/{GROUP}/sql"


def _houses() -> None:
    """A group of four houses, in both stores (ingested in-process: no Ray needed)."""
    from rayline.featurestore import FeatureGroup

    group = FeatureGroup(
        GROUP,
        [
            {"FeatureName": "house_id", "FeatureType": "Integral"},
            {"FeatureName": "event_time", "FeatureType": "Fractional"},
            {"FeatureName": "city", "FeatureType": "String"},
            {"FeatureName": "price", "FeatureType": "Fractional"},
        ],
    )
    group.create(
        record_identifier_name="house_id",
        event_time_feature_name="event_time",
        description="house prices",
    )
    ids = [1, 2, 3, 4]
    frame = pd.DataFrame(
        {
            "house_id": ids,
            "event_time": [1_700_000_000.0 + i for i in ids],
            "city": ["lyon", "nantes", "lyon", "brest"],
            "price": [1000.0 * i for i in ids],
        }
    )
    report = group.ingest(frame)
    assert not report.rejected, report


def _run_sql(studio, sql: str, *, keyboard: bool = False) -> None:
    studio.page.fill("#sql", sql)
    with studio.page.expect_navigation():
        if keyboard:
            studio.page.locator("#sql").press("Control+Enter")
        else:
            studio.page.click("#run-sql")


def test_feature_group_pages_lookup_and_sql(studio):
    from playwright.sync_api import expect

    _houses()
    page = studio.page

    # The list: the group with its identifier, event time, counts and stores.
    studio.sign_in("viewer", path="/studio/feature-groups")
    row = page.locator(f'#feature-groups tr[data-group="{GROUP}"]')
    expect(row).to_contain_text("house_id")
    expect(row).to_contain_text("event_time")
    expect(row.locator("td.num")).to_have_text(["4", "4"])
    expect(row.locator(".store.on")).to_have_count(2)
    studio.shot("feature-groups")

    # One group: schema, counts, samples, the lineage link.
    row.locator("a", has_text=GROUP).click()
    expect(page).to_have_url(re.compile(rf"/studio/feature-groups/{GROUP}$"))
    expect(page.locator("#schema tbody tr")).to_have_count(4)
    expect(page.locator("#schema")).to_contain_text("record identifier")
    expect(page.locator("#schema tbody tr").nth(3)).to_contain_text("Fractional")
    expect(page.locator("#online-count")).to_have_text("4 live records")
    expect(page.locator("#offline-count")).to_have_text("4 rows")
    expect(page.locator("#samples tbody tr")).to_have_count(4)
    expect(page.locator("#samples thead")).to_have_text(re.compile("house_id.*city.*price"))
    assert page.locator("#lineage").get_attribute("href") == (
        f"/studio/lineage?kind=feature_group&id={GROUP}"
    )
    studio.shot("feature-group")

    # A lookup by identifier: a hit shows the record ...
    page.fill("#record", "2")
    page.click("#lookup")
    expect(page.locator("#lookup-result")).to_contain_text("nantes")
    expect(page.locator("#lookup-result")).to_contain_text("2000")
    studio.shot("feature-group-lookup")
    # ... a miss says so, with a 404.
    studio.allow(f"/studio/feature-groups/{GROUP}?record=999", 404)
    page.fill("#record", "999")
    with page.expect_response(lambda r: "record=999" in r.url) as missed:
        page.click("#lookup")
    assert missed.value.status == 404
    expect(page.locator("#lookup-error")).to_contain_text("no record with identifier '999'")
    studio.shot("feature-group-lookup-miss")

    # SQL, as a viewer (a read): the columns, the row count and the elapsed time.
    _run_sql(
        studio,
        f"SELECT city, count(*) AS n, sum(price) AS total FROM {GROUP} GROUP BY city ORDER BY city",
    )
    expect(page.locator("#sql-result thead th")).to_have_count(3)
    expect(page.locator("#sql-result thead")).to_contain_text("total")
    expect(page.locator("#sql-result tbody tr")).to_have_count(3)
    first = page.locator("#sql-result tbody tr").first
    expect(first).to_have_text(re.compile(r"brest\s*1\s*4000"))
    expect(page.locator("#sql-count")).to_have_text("3 rows")
    expect(page.locator("#sql-complete")).to_be_visible()
    expect(page.locator("#sql-elapsed")).to_have_text(re.compile(r"^\d+\.\d{3} s$"))
    studio.shot("feature-group-sql")

    # More rows than the page shows: the rows up to the cap, flagged truncated (Ctrl+Enter).
    _run_sql(studio, "SELECT range AS i FROM range(1500)", keyboard=True)
    expect(page.locator("#sql-truncated")).to_be_visible()
    expect(page.locator("#sql-count")).to_have_text("1000 rows")

    # What the sandbox refuses: its message and its 400, the query kept in the box.
    studio.allow(SQL_PATH, 400)
    for sql, message in (
        (f"DELETE FROM {GROUP}", "a DELETE statement was given; only one read-only SELECT"),
        (f"SELEC * FROM {GROUP}", "syntax error"),
        ("SELECT * FROM no_such_group", "no_such_group"),
    ):
        with page.expect_response(lambda r: r.url.endswith(SQL_PATH)) as answered:
            _run_sql(studio, sql)
        assert answered.value.status == 400
        expect(page.locator("#sql-error")).to_contain_text(message)
        expect(page.locator("#sql")).to_have_value(sql)
        expect(page.locator("#sql-result")).to_have_count(0)
        if sql.startswith("DELETE"):
            studio.shot("feature-group-sql-refused")
    from rayline.featurestore import FeatureGroup

    assert FeatureGroup(GROUP).describe().offline_record_count == 4

    # A form without the session's CSRF token is refused; an unknown group is a 404 page.
    forged = page.request.post(studio.url(SQL_PATH), form={"csrf": "0" * 64, "sql": "SELECT 1"})
    assert forged.status == 403 and "CSRF" in forged.text()
    studio.allow("/studio/feature-groups/no-such-group", 404)
    assert studio.goto("/studio/feature-groups/no-such-group").status == 404
    expect(page.locator("#page-error")).to_contain_text("no-such-group")
    studio.shot("feature-group-unknown")

    # The viewer's queries are in the audit log, as the API's are.
    from rayline.auth.audit import list_audit

    mine = [r for r in list_audit() if r.path == SQL_PATH and r.identity == "viewer-user"]
    statuses = {r.status for r in mine}
    assert statuses == {200, 400, 403}
