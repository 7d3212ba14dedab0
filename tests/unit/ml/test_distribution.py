"""The trainer's ``distributed`` option decides the training path and the reason says which."""

from __future__ import annotations

import pytest

from rayline.errors import UserInputError
from rayline.ml.trainers import XGBoostTrainer
from rayline.ml.training import choose_distribution


def test_true_runs_num_workers_workers_whatever_the_size():
    choice = choose_distribution(
        XGBoostTrainer(label="y", num_workers=3, distributed=True), cells=10
    )
    assert choice.distributed and choice.num_workers == 3
    assert choice.reason == "distributed=True: Ray Train with 3 workers"


def test_false_is_one_process_whatever_the_size():
    choice = choose_distribution(
        XGBoostTrainer(label="y", num_workers=4, distributed=False), cells=10**12
    )
    assert not choice.distributed and choice.num_workers == 1
    assert choice.reason == "distributed=False: one process"


def test_none_chooses_by_size_and_says_against_what(monkeypatch):
    monkeypatch.delenv("RAYLINE_DISTRIBUTED_MIN_CELLS", raising=False)
    trainer = XGBoostTrainer(label="y", num_workers=2)
    small = choose_distribution(trainer, cells=80_000)
    assert not small.distributed and small.num_workers == 1
    assert small.reason == (
        "distributed=None: 80,000 cells < 50,000,000 (RAYLINE_DISTRIBUTED_MIN_CELLS): one process"
    )
    large = choose_distribution(trainer, cells=60_000_000)
    assert large.distributed and large.num_workers == 2
    assert "60,000,000 cells >= 50,000,000" in large.reason
    monkeypatch.setenv("RAYLINE_DISTRIBUTED_MIN_CELLS", "100")
    assert choose_distribution(trainer, cells=100).distributed
    single = choose_distribution(XGBoostTrainer(label="y"), cells=10**12)
    assert not single.distributed and "num_workers=1" in single.reason


def test_options_are_checked_and_round_trip():
    trainer = XGBoostTrainer(
        label="y", num_workers=2, distributed=True, placement_strategy="STRICT_SPREAD"
    )
    assert XGBoostTrainer.from_dict(trainer.to_dict()) == trainer
    assert XGBoostTrainer.from_dict({"Label": "y"}).placement_strategy == "PACK"
    with pytest.raises(UserInputError, match="must be True, False or None"):
        XGBoostTrainer(label="y", distributed="yes")
    with pytest.raises(UserInputError, match="STRICT_SPREAD"):
        XGBoostTrainer(label="y", placement_strategy="EVERYWHERE")
