"""Trainer specs: what to train, as plain data (no Ray, no XGBoost imported here).

A spec is part of a pipeline definition, so it must serialise to JSON and back and stay cheap to
import; :mod:`rayline.ml.training` is what runs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rayline.definition.expressions import Expression
from rayline.errors import UserInputError

#: Metrics computed on the validation split when ``params`` names none.
DEFAULT_EVAL_METRICS = ("mae", "rmse")

#: Ray's placement strategies for the Ray Train workers of one run.
PLACEMENT_STRATEGIES = ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD")


@dataclass(frozen=True)
class XGBoostTrainer:
    """XGBoost on Ray Train, or in one process when the data is small.

    ``distributed=None`` lets rayline choose: one process (all the node's cores) unless the
    training data is large enough for several workers to pay off (see
    :data:`rayline.ml.training.DISTRIBUTED_MIN_CELLS`); ``True`` runs Ray Train with
    ``num_workers`` workers, ``False`` one process. Whichever ran, and why, is recorded in the
    step's properties (``Distributed``, ``DistributedReason``) and printed in its logs.
    ``placement_strategy`` places the Ray Train workers (``"STRICT_SPREAD"``: one per node).

    Example::

        XGBoostTrainer(label="PRICE", num_boost_round=100, num_workers=2,
                       params={"objective": "reg:squarederror", "max_depth": 6})
    """

    # The engine resolves expressions (parameters, step properties) inside the spec's fields.
    __resolvable__ = True

    label: str
    params: dict[str, Any] = field(default_factory=dict)
    num_boost_round: int = 100
    num_workers: int = 1
    cpus_per_worker: float = 1.0
    use_gpu: bool = False
    distributed: bool | None = None
    placement_strategy: str = "PACK"

    def __post_init__(self) -> None:
        # Values may be pipeline expressions until the engine resolves them; check plain ones.
        if isinstance(self.label, str) and not self.label:
            raise UserInputError("XGBoostTrainer: label= must name the target column")
        if isinstance(self.num_boost_round, int) and self.num_boost_round < 1:
            raise UserInputError(
                f"XGBoostTrainer: num_boost_round={self.num_boost_round} must be at least 1"
            )
        if isinstance(self.num_workers, int) and self.num_workers < 1:
            raise UserInputError(
                f"XGBoostTrainer: num_workers={self.num_workers} must be at least 1"
            )
        if isinstance(self.cpus_per_worker, int | float) and self.cpus_per_worker <= 0:
            raise UserInputError(
                f"XGBoostTrainer: cpus_per_worker={self.cpus_per_worker} must be positive"
            )
        if self.distributed is not None and not isinstance(self.distributed, bool | Expression):
            raise UserInputError(
                f"XGBoostTrainer: distributed={self.distributed!r} must be True, False or None"
            )
        if isinstance(self.placement_strategy, str) and (
            self.placement_strategy not in PLACEMENT_STRATEGIES
        ):
            raise UserInputError(
                f"XGBoostTrainer: placement_strategy={self.placement_strategy!r} is not one of "
                f"{', '.join(PLACEMENT_STRATEGIES)}"
            )

    def with_params(self, **overrides: Any) -> XGBoostTrainer:
        """A copy with ``params`` updated (tuning uses this for each trial's hyperparameters)."""
        from dataclasses import replace

        return replace(self, params={**self.params, **overrides})

    def to_dict(self) -> dict[str, Any]:
        """The spec as JSON-able data (expressions are left for the caller to encode)."""
        return {
            "Label": self.label,
            "Params": dict(self.params),
            "NumBoostRound": self.num_boost_round,
            "NumWorkers": self.num_workers,
            "CpusPerWorker": self.cpus_per_worker,
            "UseGpu": self.use_gpu,
            "Distributed": self.distributed,
            "PlacementStrategy": self.placement_strategy,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> XGBoostTrainer:
        """The inverse of :meth:`to_dict`."""
        return cls(
            label=data["Label"],
            params=dict(data.get("Params") or {}),
            num_boost_round=data.get("NumBoostRound", 100),
            num_workers=data.get("NumWorkers", 1),
            cpus_per_worker=data.get("CpusPerWorker", 1.0),
            use_gpu=data.get("UseGpu", False),
            distributed=data.get("Distributed"),
            placement_strategy=data.get("PlacementStrategy", "PACK"),
        )
