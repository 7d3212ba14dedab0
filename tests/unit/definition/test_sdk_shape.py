"""rayline's definition JSON against the SageMaker Python SDK v2's own shape.

The expected objects are written literally from the SDK's ``to_request()``
(``src/sagemaker/workflow/conditions.py``, ``retry.py``, ``steps.py``).
"""

from __future__ import annotations

from rayline.definition.conditions import (
    ConditionIn,
    ConditionLessThanOrEqualTo,
    ConditionNot,
    ConditionOr,
    condition_from_request,
)
from rayline.definition.parameters import ParameterFloat, ParameterString
from rayline.definition.policies import CacheConfig, RetryPolicy


def _params():
    return {
        "threshold": ParameterFloat("threshold", default_value=0.5),
        "region": ParameterString("region", default_value="eu"),
    }


def test_conditions_are_written_in_the_sdk_shape():
    p = _params()
    cond = ConditionOr(
        (
            ConditionLessThanOrEqualTo(p["threshold"], 1.0),
            ConditionNot(ConditionIn(p["region"], ("eu", "us"))),
        )
    )
    assert cond.to_request() == {
        "Type": "Or",
        "Conditions": [
            {
                "Type": "LessThanOrEqualTo",
                "LeftValue": {"Get": "Parameters.threshold"},
                "RightValue": 1.0,
            },
            {
                "Type": "Not",
                "Condition": {
                    "Type": "In",
                    "QueryValue": {"Get": "Parameters.region"},
                    "Values": ["eu", "us"],
                },
            },
        ],
    }
    assert condition_from_request(cond.to_request(), p) == cond


def test_the_shape_rayline_stored_before_is_still_read():
    p = _params()
    old = {
        "Type": "Or",
        "Arguments": {
            "Conditions": [
                {
                    "Type": "LessThanOrEqualTo",
                    "Arguments": {"LeftValue": {"Get": "Parameters.threshold"}, "RightValue": 1.0},
                },
                {
                    "Type": "Not",
                    "Arguments": {
                        "Expression": {
                            "Type": "In",
                            "Arguments": {
                                "QueryValue": {"Get": "Parameters.region"},
                                "InValues": ["eu", "us"],
                            },
                        }
                    },
                },
            ]
        },
    }
    cond = condition_from_request(old, p)
    assert cond.to_request()["Conditions"][1]["Condition"]["Values"] == ["eu", "us"]
    assert cond.to_request()["Conditions"][0]["LeftValue"] == {"Get": "Parameters.threshold"}


def test_retry_policy_omits_unset_limits_like_the_sdk():
    policy = RetryPolicy(exception_types=("Exception",), max_attempts=None, expire_after_mins=30)
    assert policy.to_request() == {
        "ExceptionType": ["Exception"],
        "IntervalSeconds": 1.0,
        "BackoffRate": 2.0,
        "ExpireAfterMin": 30,
    }
    assert RetryPolicy.from_request(policy.to_request()) == policy
    assert "ExpireAfterMin" not in RetryPolicy(max_attempts=3).to_request()


def test_cache_config_omits_unset_expiry():
    assert CacheConfig(enable_caching=True).to_request() == {"Enabled": True}
    assert CacheConfig(enable_caching=True, expire_after="P30d").to_request() == {
        "Enabled": True,
        "ExpireAfter": "P30d",
    }


def test_conditions_and_parameters_the_sdk_wrote_are_written_back_unchanged():
    # tests/fixtures/sagemaker/conditions.json was written by the SageMaker SDK 2.257.7
    # (tests/fixtures/sagemaker/generate.py): rayline reads it and writes the same JSON.
    import json
    from pathlib import Path

    from rayline.definition.parameters import parameter_from_definition

    fixture = Path(__file__).parents[2] / "fixtures" / "sagemaker" / "conditions.json"
    sdk = json.loads(fixture.read_text())
    params = {p["Name"]: parameter_from_definition(p) for p in sdk["Parameters"]}
    for entry in sdk["Parameters"]:
        assert params[entry["Name"]].definition() == entry
    (gate,) = [s for s in sdk["Steps"] if s["Type"] == "Condition"]
    for written in gate["Arguments"]["Conditions"]:
        assert condition_from_request(written, params).to_request() == written
