"""Placement: a step's custom Ray resources (``resources=``) are checked, kept in the
definition, and no part of its cache key."""

from __future__ import annotations

import json

import pytest

from rayline import PipelineDefinitionError
from rayline.definition import PipelineDefinition
from rayline.definition.steps import FailStep, ProcessingOutput, ProcessingStep, step
from rayline.engine.resolution import CacheKeyResolver, cache_key
from rayline.ml.steps import TrainingStep
from rayline.ml.trainers import XGBoostTrainer


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "script.py"
    path.write_text("print('hello')\n")
    return str(path)


def test_resources_round_trip_through_the_definition(script):
    placed = ProcessingStep(
        "Prep", code=script, outputs=[ProcessingOutput("out")], resources={"worker": 0.1}
    )
    anywhere = ProcessingStep("Other", code=script)
    definition = PipelineDefinition("p", steps=[placed, anywhere]).definition()
    doc = json.loads(definition)
    assert doc["Steps"][0]["RayResources"] == {"worker": 0.1}
    assert "RayResources" not in doc["Steps"][1]
    again = PipelineDefinition.from_definition(definition)
    assert again.step("Prep").resources == {"worker": 0.1}
    assert again.step("Other").resources == {}
    assert again.definition() == definition


def test_every_kind_takes_resources(script):
    @step(resources={"gpu_node": 1})
    def add(a, b):
        return a + b

    assert add(1, 2).resources == {"gpu_node": 1.0}
    trainer = XGBoostTrainer(label="y")
    training = TrainingStep("Train", trainer=trainer, inputs={"train": "/d"}, resources={"w": 2})
    assert training.resources == {"w": 2.0}
    assert FailStep("F", resources={"w": 0.5}).resources == {"w": 0.5}
    # The task's own options stay the kind's: the scheduler adds the custom resources.
    assert "resources" not in add(1, 2).ray_options()


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        ({"CPU": 2}, "num_cpus="),
        ({"GPU": 1}, "num_gpus="),
        ({"memory": 1e9}, "built-in Ray resource"),
        ({"worker": 0}, "positive amount"),
        ({"worker": -1}, "positive amount"),
        ({"worker": "a lot"}, "positive amount"),
        ({"worker": True}, "positive amount"),
        ({1: 1}, "non-empty string"),
        ({"": 1}, "non-empty string"),
        (["worker"], "must be a dict"),
    ],
)
def test_bad_resources_are_refused_with_the_fix(script, resources, message):
    with pytest.raises(PipelineDefinitionError, match=message) as info:
        ProcessingStep("Prep", code=script, resources=resources)
    assert "'Prep'" in str(info.value)


def test_resources_are_not_part_of_the_cache_key(script):
    def key(**placement):
        s = ProcessingStep("Prep", code=script, arguments=["--n", 3], **placement)
        pipeline = PipelineDefinition("p", steps=[s])
        # The definition is what the scheduler reads back, so key the step parsed from it.
        parsed = PipelineDefinition.from_definition(pipeline.definition()).step("Prep")
        resolver = CacheKeyResolver(pipeline, "e1", 0.0, {}, {}, None)
        return cache_key(parsed, resolver)

    assert key() == key(resources={"worker": 0.1}) == key(resources={"head": 1})
    # ... while what the step computes is (the key is not blind):
    s = ProcessingStep("Prep", code=script, arguments=["--n", 4])
    assert key() != cache_key(
        s, CacheKeyResolver(PipelineDefinition("p", steps=[s]), "e", 0.0, {}, {}, None)
    )
