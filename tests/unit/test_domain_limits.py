"""The limits front ends used to copy now live in their domains, whichever front end calls."""

from __future__ import annotations

import pytest

from rayline.errors import TooLargeError, UserInputError


def test_an_invocation_over_the_limit_is_refused_by_serving():
    from rayline.serving.entities import MAX_INVOCATION_BYTES, check_invocation_size

    check_invocation_size("housing", MAX_INVOCATION_BYTES)
    with pytest.raises(TooLargeError, match="over the 6291456 bytes an invocation may carry"):
        check_invocation_size("housing", MAX_INVOCATION_BYTES + 1)


def test_the_sandbox_refuses_an_overlong_sql_text():
    from rayline.featurestore.sandbox import MAX_SQL_CHARS, check_select

    check_select("SELECT 1")
    text = "SELECT 1" + " " * MAX_SQL_CHARS
    with pytest.raises(UserInputError, match=f"over the {MAX_SQL_CHARS} taken"):
        check_select(text)
