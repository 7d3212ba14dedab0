"""The lineage graph's traversal and the definition walker, on hand-built data."""

from __future__ import annotations

from rayline.lineage.builder import _references
from rayline.lineage.graph import LineageGraph, Node


def chain() -> LineageGraph:
    g = LineageGraph()
    data = g.add(Node("artifact", "file:///data.csv", "data.csv"))
    prep = g.add(Node("step", "e1/Prep", "Prep"))
    train_out = g.add(Node("artifact", "file:///e1/Prep/train", "Prep.train"))
    tune = g.add(Node("step", "e1/Tune", "Tune"))
    model = g.add(Node("model", "housing/1", "housing/1"))
    endpoint = g.add(Node("endpoint", "prod", "prod"))
    g.link(data, prep, "raw")
    g.link(prep, train_out, "train")
    g.link(train_out, tune, "train")
    g.link(tune, model, "registered")
    g.link(model, endpoint, "serves")
    g.link(model, model, "self")  # ignored: no self loops
    return g


def test_upstream_and_downstream_are_breadth_first():
    lineage = chain().lineage("model:housing/1")
    assert [(e.node.label, e.depth, e.relation) for e in lineage.upstream] == [
        ("Tune", 1, "registered"),
        ("Prep.train", 2, "train"),
        ("Prep", 3, "train"),
        ("data.csv", 4, "raw"),
    ]
    assert [(e.node.label, e.relation) for e in lineage.downstream] == [("prod", "serves")]
    assert lineage.to_dict()["upstream"][0]["via"] == "model:housing/1"


def test_depth_limit_and_many_starts():
    g = chain()
    assert [e.node.label for e in g.walk("model:housing/1", upstream=True, max_depth=2)] == [
        "Tune",
        "Prep.train",
    ]
    both = g.walk(["step:e1/Prep", "step:e1/Tune"], upstream=False)
    assert [e.node.label for e in both] == ["Prep.train", "housing/1", "prod"]


def test_richer_node_detail_wins():
    g = LineageGraph()
    g.add(Node("artifact", "x", "x"))
    g.add(Node("artifact", "x", "x", "file:///x"))
    assert g.nodes["artifact:x"].detail == "file:///x"


def test_references_name_inputs_and_skip_nested_steps():
    args = {
        "Code": {"Kind": "Script", "Path": "scripts/prep.py", "Sha256": "abc"},
        "ProcessingInputs": [
            {"Source": "/data/house.csv", "Destination": "raw"},
            {"Source": {"Get": "Steps.Ingest.Outputs['table']"}, "Destination": "table"},
        ],
        "ModelUri": {"Get": "Steps.Tune.Properties.BestModel"},
        "IfSteps": [{"Name": "X", "Arguments": {"ModelUri": "/ignored.ubj"}}],
    }
    refs = list(_references(args))
    assert ("code", {"Kind": "Script", "Path": "scripts/prep.py", "Sha256": "abc"}) in refs
    assert ("raw", "/data/house.csv") in refs
    assert ("table", {"Get": "Steps.Ingest.Outputs['table']"}) in refs
    assert ("ModelUri", {"Get": "Steps.Tune.Properties.BestModel"}) in refs
    assert all(v != "/ignored.ubj" for _, v in refs)


def test_references_in_sagemakers_processing_shape_name_inputs_not_container_paths():
    args = {
        "AppSpecification": {
            "ContainerArguments": ["--rows", {"Get": "Parameters.Rows"}],
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/prep.py"],
        },
        "ProcessingInputs": [
            {
                "InputName": "table",
                "AppManaged": False,
                "S3Input": {
                    "S3Uri": {"Get": "Steps.Ingest.Outputs['table']"},
                    "LocalPath": "/opt/ml/processing/table",
                    "S3DataType": "S3Prefix",
                },
            }
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "train",
                    "AppManaged": False,
                    "S3Output": {"LocalPath": "/opt/ml/processing/train"},
                }
            ]
        },
        "Rayline": {"Code": {"Kind": "Script", "Path": "scripts/prep.py", "Sha256": "abc"}},
    }
    refs = list(_references(args))
    assert ("table", {"Get": "Steps.Ingest.Outputs['table']"}) in refs
    assert ("ContainerArguments", {"Get": "Parameters.Rows"}) in refs
    assert ("code", {"Kind": "Script", "Path": "scripts/prep.py", "Sha256": "abc"}) in refs
    assert not any(isinstance(v, str) and v.startswith("/opt/ml") for _, v in refs)


def test_references_of_training_channels_are_named_by_channel():
    channel = {
        "ChannelName": "validation",
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": {"Get": "Steps.Prep.ProcessingOutputConfig.Outputs['validation']"},
            }
        },
    }
    refs = _references({"TrainingJobDefinition": {"InputDataConfig": [channel]}})
    assert [(k, v) for k, v in refs if not isinstance(v, str)] == [
        ("validation", {"Get": "Steps.Prep.ProcessingOutputConfig.Outputs['validation']"})
    ]
