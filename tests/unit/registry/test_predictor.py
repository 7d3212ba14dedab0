"""The endpoint's per-request work without Ray: parsing, scaling, predicting, formatting."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rayline.errors import SchemaError
from rayline.serving.predictor import (
    CSV,
    JSON,
    InvalidRequest,
    Predictor,
    Preprocessor,
    response_type,
)

COLUMNS = ("a", "b", "c")


MEANS, STDS = (1.0, 2.0, 3.0), (1.0, 2.0, 0.0)


@pytest.fixture(scope="module")
def booster():
    """A real XGBoost model whose prediction depends on every (scaled) column."""
    import xgboost as xgb

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3))
    return xgb.train(
        {"max_depth": 3, "nthread": 1}, xgb.DMatrix(x, label=x @ np.array([10.0, 5.0, 1.0])), 20
    )


@pytest.fixture
def predictor(booster):
    return Predictor(booster, Preprocessor(columns=COLUMNS, means=MEANS, stds=STDS), COLUMNS)


def expected(booster, rows):
    # (x - mean) / std, where a zero std scales by 1 instead of dividing by zero.
    x = (np.array(rows, dtype=float) - MEANS) / np.where(np.array(STDS) == 0, 1.0, STDS)
    return [float(v) for v in booster.inplace_predict(x)]


def test_csv_rows_are_scaled_with_the_bundled_preprocessor(predictor, booster):
    body, media = predictor.invoke(b"1,2,3\n3,6,5\n", CSV)
    assert media == CSV
    got = [float(v) for v in body.split()]
    assert got == pytest.approx(expected(booster, [[1, 2, 3], [3, 6, 5]]))
    assert got[0] != pytest.approx(got[1])


def test_json_instances_by_position_or_name(predictor, booster):
    by_position = predictor.invoke(b'{"instances": [[1, 2, 3]]}', JSON)[0]
    by_name = predictor.invoke(
        json.dumps({"instances": [{"c": 4, "b": 2, "a": 1}]}).encode(), JSON
    )[0]
    assert json.loads(by_position)["predictions"] == pytest.approx(expected(booster, [[1, 2, 3]]))
    assert json.loads(by_name)["predictions"] == pytest.approx(expected(booster, [[1, 2, 4]]))
    # A bare row is one instance.
    assert json.loads(predictor.invoke(b"[1, 2, 4]", JSON)[0]) == json.loads(by_name)


def test_accept_header_picks_the_answer_type(predictor):
    assert predictor.invoke(b"1,2,3", CSV, "application/json")[1] == JSON
    assert predictor.invoke(b"1,2,3", CSV, "*/*")[1] == CSV
    assert predictor.invoke(b"1,2,3", "text/csv; charset=utf-8")[1] == CSV
    assert response_type("text/plain, application/json;q=0.9", default=CSV) == JSON
    with pytest.raises(InvalidRequest) as err:
        response_type("text/html", default=CSV)
    assert err.value.status == 406


@pytest.mark.parametrize(
    ("body", "ctype", "status", "message"),
    [
        (b"", CSV, 400, "empty request"),
        (b"1,2", CSV, 400, "row 1 has 2 values; expected 3 (a,b,c)"),
        (b"1,2,3\n1,x,3", CSV, 400, "CSV row 2"),
        (b"a,b,c\n1,2,3", CSV, 400, "no header row"),
        (b"1,nan,3", CSV, 400, "finite"),
        (b"\xff\xfe", CSV, 400, "UTF-8"),
        (b"{", JSON, 400, "does not parse"),
        (b'{"instances": []}', JSON, 400, "expected"),
        (b'{"instances": [{"a": 1}]}', JSON, 400, "lacks column(s) ['b', 'c']"),
        (b'{"instances": [{"a": 1, "b": 2, "c": 3, "d": 4}]}', JSON, 400, "unknown column"),
        (b'{"instances": [[1, "x", 3]]}', JSON, 400, "must be a number"),
        (b"1,2,3", "text/plain", 415, "not supported"),
    ],
)
def test_malformed_requests_name_the_problem(predictor, body, ctype, status, message):
    with pytest.raises(InvalidRequest) as err:
        predictor.invoke(body, ctype)
    assert err.value.status == status
    assert message in str(err.value)


def test_preprocessor_validation():
    with pytest.raises(SchemaError, match="same length"):
        Preprocessor.from_dict({"columns": ["a", "b"], "means": [1], "stds": [1, 2]})
    with pytest.raises(SchemaError, match="'columns', 'means' and 'stds'"):
        Preprocessor.from_dict({"columns": ["a"]})
    pre = Preprocessor.from_dict({"columns": ["a"], "means": [1], "stds": [2], "label": "y"})
    assert Preprocessor.from_dict(pre.to_dict()) == pre
    with pytest.raises(SchemaError, match="differ from the model's input schema"):
        Predictor(None, pre, ("b",))


def test_real_xgboost_model_round_trip(tmp_path):
    import xgboost as xgb

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    booster = xgb.train({"max_depth": 2}, xgb.DMatrix(x, label=x[:, 0] * 10), 10)
    booster.save_model(str(tmp_path / "model.json"))
    (tmp_path / "pre.json").write_text(
        json.dumps({"columns": list(COLUMNS), "means": [0, 0, 0], "stds": [1, 1, 1]})
    )
    loaded = Predictor.load((tmp_path / "model.json").as_uri(), str(tmp_path / "pre.json"))
    got = float(loaded.invoke(b"1,0,0", CSV)[0])
    assert got == pytest.approx(float(booster.inplace_predict(np.array([[1.0, 0, 0]]))[0]))
    with pytest.raises(SchemaError, match="does not exist"):
        Predictor.load(str(tmp_path / "missing.ubj"))
