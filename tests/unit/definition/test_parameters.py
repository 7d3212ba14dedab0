from __future__ import annotations

import pytest

from rayline import (
    ParameterBoolean,
    ParameterError,
    ParameterFloat,
    ParameterInteger,
    ParameterString,
    PipelineDefinitionError,
)
from rayline.definition.parameters import resolve_parameters


def test_defaults_and_overrides():
    params = [
        ParameterFloat("RMSEThreshold", default_value=15000.0),
        ParameterString("TrainSize", default_value="0.6"),
        ParameterInteger("ProcessingInstanceCount", default_value=1),
    ]
    assert resolve_parameters(params, None) == {
        "RMSEThreshold": 15000.0,
        "TrainSize": "0.6",
        "ProcessingInstanceCount": 1,
    }
    assert resolve_parameters(params, {"RMSEThreshold": 20000})["RMSEThreshold"] == 20000.0


def test_strings_from_the_command_line_are_parsed():
    params = [
        ParameterFloat("T", default_value=1.0),
        ParameterBoolean("B", default_value=False),
        ParameterInteger("N", default_value=1),
    ]
    assert resolve_parameters(params, {"T": "2.5", "B": "yes", "N": " 7"}) == {
        "T": 2.5,
        "B": True,
        "N": 7,
    }


def test_required_parameter_missing_names_it():
    with pytest.raises(ParameterError, match="'Bucket' is required"):
        resolve_parameters([ParameterString("Bucket")], {})


def test_wrong_type_and_unknown_names():
    with pytest.raises(ParameterError, match="'N' \\(Integer\\) got 'x'"):
        resolve_parameters([ParameterInteger("N", default_value=1)], {"N": "x"})
    with pytest.raises(ParameterError, match="got True"):
        resolve_parameters([ParameterInteger("N", default_value=1)], {"N": True})
    with pytest.raises(ParameterError, match="unknown parameter\\(s\\) 'Typo'"):
        resolve_parameters([ParameterInteger("N", default_value=1)], {"Typo": 1})


def test_enum_values():
    p = ParameterString("Mode", default_value="fast", enum_values=["fast", "slow"])
    assert resolve_parameters([p], {"Mode": "slow"}) == {"Mode": "slow"}
    with pytest.raises(ParameterError, match="not one of its allowed values"):
        resolve_parameters([p], {"Mode": "medium"})
    with pytest.raises(ParameterError):
        ParameterString("Mode", default_value="medium", enum_values=["fast"])


def test_invalid_default_and_name():
    with pytest.raises(ParameterError):
        ParameterFloat("T", default_value="high")
    with pytest.raises(PipelineDefinitionError, match="invalid"):
        ParameterFloat("bad name", default_value=1.0)
