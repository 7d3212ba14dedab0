"""Malformed CSV files, shared by the tests that feed them to each front end (the Python API,
``rayline ingest``, the server's upload): each with the error's pattern (file and line)."""

from __future__ import annotations

import pytest

from rayline.featurestore import (
    FractionalFeatureDefinition,
    IntegralFeatureDefinition,
    StringFeatureDefinition,
)

#: The group every file is ingested into.
FEATURES = [
    IntegralFeatureDefinition("id"),
    StringFeatureDefinition("city"),
    FractionalFeatureDefinition("price"),
    FractionalFeatureDefinition("event_time"),
]
HEADER = b"id,city,price,event_time\n"

#: (name, content, pattern of the error after the file's name)
CASES = [
    pytest.param(
        HEADER + b"1,Oslo,1.5,100\n\n2,Rome,2.5\n3,Nice,3.5,300\n",
        r", line 4: 3 fields where the header has 4",
        id="ragged-row",
    ),
    pytest.param(
        HEADER + b'1,Oslo,1.5,100\n2,"Rome,2.5,200\n3,Nice,3.5,300\n',
        r", line 3: 2 fields where the header has 4 \(an unterminated quote starts there",
        id="unterminated-quote",
    ),
    pytest.param(
        HEADER + b"1,Oslo,1.5,100\n2,R\xf4me,2.5,200\n",
        r", line 3: bytes that are not UTF-8",
        id="not-utf8",
    ),
    pytest.param(b"", r" is empty; it needs a header line", id="empty"),
    pytest.param(HEADER, r" has a header but no rows", id="header-only"),
]
