"""Machine learning on Ray: preprocessing (Ray Data), XGBoost training (one process or Ray
Train), hyperparameter tuning (Ray Tune) and evaluation.

>>> from rayline.ml import XGBoostTrainer, TuningStep, IntegerParameter, ContinuousParameter

Names are imported on first use: the step definitions are pure data, and the functions that run
them import Ray, XGBoost and pyarrow only when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rayline._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    # specs and step kinds (pure data)
    "XGBoostTrainer": "rayline.ml.trainers",
    "ContinuousParameter": "rayline.ml.hyperparameters",
    "IntegerParameter": "rayline.ml.hyperparameters",
    "CategoricalParameter": "rayline.ml.hyperparameters",
    "TrainingStep": "rayline.ml.steps",
    "TuningStep": "rayline.ml.steps",
    # library functions
    "preprocess": "rayline.ml.preprocessing",
    "PreprocessingResult": "rayline.ml.preprocessing",
    "Preprocessor": "rayline.ml.preprocessor",
    "train_xgboost": "rayline.ml.training",
    "TrainingResult": "rayline.ml.training",
    "tune_xgboost": "rayline.ml.tuning",
    "TuningResult": "rayline.ml.tuning",
    "evaluate_model": "rayline.ml.evaluation",
    "load_booster": "rayline.ml.evaluation",
    "regression_metrics": "rayline.ml.evaluation",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


if TYPE_CHECKING:  # pragma: no cover
    from rayline.ml.evaluation import (  # noqa: F401
        evaluate_model,
        load_booster,
        regression_metrics,
    )
    from rayline.ml.hyperparameters import (  # noqa: F401
        CategoricalParameter,
        ContinuousParameter,
        IntegerParameter,
    )
    from rayline.ml.preprocessing import PreprocessingResult, preprocess  # noqa: F401
    from rayline.ml.preprocessor import Preprocessor  # noqa: F401
    from rayline.ml.steps import TrainingStep, TuningStep  # noqa: F401
    from rayline.ml.trainers import XGBoostTrainer  # noqa: F401
    from rayline.ml.training import TrainingResult, train_xgboost  # noqa: F401
    from rayline.ml.tuning import TuningResult, tune_xgboost  # noqa: F401
