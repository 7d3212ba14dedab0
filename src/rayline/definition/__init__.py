"""The pipeline DSL: parameters, steps, expressions, conditions and the JSON definition.

Pure data: this package imports neither Ray nor rayline's storage (a test checks it).
"""

from rayline.definition.conditions import (
    Condition,
    ConditionEquals,
    ConditionGreaterThan,
    ConditionGreaterThanOrEqualTo,
    ConditionIn,
    ConditionLessThan,
    ConditionLessThanOrEqualTo,
    ConditionNot,
    ConditionOr,
)
from rayline.definition.expressions import (
    ExecutionVariable,
    ExecutionVariables,
    Expression,
    Join,
    JsonGet,
    StepOutput,
    StepProperty,
)
from rayline.definition.parameters import (
    Parameter,
    ParameterBoolean,
    ParameterFloat,
    ParameterInteger,
    ParameterString,
)
from rayline.definition.pipeline import PipelineDefinition
from rayline.definition.policies import CacheConfig, ParallelismConfiguration, RetryPolicy
from rayline.definition.selective import SelectiveExecutionConfig

__all__ = [
    "CacheConfig",
    "Condition",
    "ConditionEquals",
    "ConditionGreaterThan",
    "ConditionGreaterThanOrEqualTo",
    "ConditionIn",
    "ConditionLessThan",
    "ConditionLessThanOrEqualTo",
    "ConditionNot",
    "ConditionOr",
    "ExecutionVariable",
    "ExecutionVariables",
    "Expression",
    "Join",
    "JsonGet",
    "ParallelismConfiguration",
    "Parameter",
    "ParameterBoolean",
    "ParameterFloat",
    "ParameterInteger",
    "ParameterString",
    "PipelineDefinition",
    "RetryPolicy",
    "SelectiveExecutionConfig",
    "StepOutput",
    "StepProperty",
]
