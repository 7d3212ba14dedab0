"""Function steps: ``@step`` turns a Python function into pipeline steps.

Calling a decorated function does not run it: it returns a ``FunctionStep`` whose return value
other calls can consume, which creates the DAG edge.

>>> @step
... def add(a, b):
...     return a + b
>>> total = add(add(1, 2), 3)          # two steps, 'add' and 'add-2'
>>> Pipeline("sums", steps=[total])     # upstream steps are collected automatically
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rayline.definition.expressions import Expression, StepProperty, to_request
from rayline.definition.policies import CacheConfig, RetryPolicy
from rayline.definition.properties import ANY
from rayline.definition.runtime_envs import checked_runtime_env
from rayline.definition.steps.base import CodeRef, ParseContext, Step, no_resolve
from rayline.definition.steps.processing import function_ref


@dataclass(frozen=True, kw_only=True)
class FunctionStep(Step):
    """One call of a ``@step`` function. Its return value is ``Steps.<name>.Properties.Return``;
    index it (``result[0]``, ``result["key"]``) to pass a part of it on."""

    kind: ClassVar[str] = "Function"

    function: Callable[..., Any] | None = no_resolve(default=None, compare=False)
    function_ref: CodeRef | None = no_resolve(default=None)
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    num_cpus: float = no_resolve(default=1)
    num_gpus: float = no_resolve(default=0)
    # What the function depends on that cannot be seen in its code (see code_deps): only its
    # hash is kept, in function_ref.
    dependencies: tuple[Any, ...] = no_resolve(default=(), compare=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "args", tuple(_as_expression(a) for a in self.args))
        object.__setattr__(self, "kwargs", {k: _as_expression(v) for k, v in self.kwargs.items()})
        if self.function is not None and self.function_ref is None:
            ref = function_ref(self.function, dependencies=self.dependencies)
            object.__setattr__(self, "function_ref", ref)

    # ``step["key"]`` reads the result; without this, Python would also make the step iterable
    # through the old sequence protocol (``list(step)`` calling ``step[0]``, ``step[1]``, ...
    # forever).
    __iter__ = None

    def __getitem__(self, key: str | int) -> StepProperty:
        return self.result[key]

    @property
    def result(self) -> StepProperty:
        """The function's return value, as an expression."""
        return StepProperty(self.name, "Return", source=self)

    def property_schema(self) -> dict[str, Any]:
        return {"Return": ANY}

    def upstream_steps(self) -> list[Step]:
        return [
            v.source
            for v in (*self.args, *self.kwargs.values())
            if isinstance(v, StepProperty) and isinstance(v.source, Step)
        ]

    def code_ref(self) -> CodeRef | None:
        return self.function_ref

    def ray_options(self) -> dict[str, Any]:
        return {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus}

    def code_snapshots(self) -> list[tuple[bytes, str]]:
        if self.function is None:
            return []
        import cloudpickle

        return [(cloudpickle.dumps(self.function), ".pkl")]

    def to_arguments(self) -> dict[str, Any]:
        return {
            "Function": self.function_ref.to_request(),
            "Args": to_request(list(self.args)),
            "Kwargs": to_request(self.kwargs),
            "Resources": {"NumCpus": self.num_cpus, "NumGpus": self.num_gpus},
        }

    @classmethod
    def from_arguments(
        cls, name: str, arguments: dict[str, Any], ctx: ParseContext, **common: Any
    ) -> FunctionStep:
        res = arguments.get("Resources", {})
        return cls(
            name,
            function_ref=CodeRef.from_request(arguments["Function"]),
            args=tuple(ctx.value(arguments.get("Args", []))),
            kwargs=ctx.value(arguments.get("Kwargs", {})),
            num_cpus=res.get("NumCpus", 1),
            num_gpus=res.get("NumGpus", 0),
            **common,
        )


def _as_expression(value: Any) -> Any:
    if isinstance(value, FunctionStep):
        return value.result
    if isinstance(value, (list, tuple)) and not isinstance(value, Expression):
        return type(value)(_as_expression(v) for v in value)
    if isinstance(value, dict):
        return {k: _as_expression(v) for k, v in value.items()}
    return value


def step(
    _func: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    cache_config: CacheConfig | None = None,
    retry_policies: tuple[RetryPolicy, ...] = (),
    depends_on: tuple[Any, ...] = (),
    num_cpus: float = 1,
    num_gpus: float = 0,
    resources: dict[str, float] | None = None,
    runtime_env: dict[str, Any] | None = None,
    display_name: str | None = None,
    description: str | None = None,
    dependencies: tuple[Any, ...] = (),
) -> Any:
    """Decorate a function so that calling it defines a pipeline step.

    The first call of ``f`` makes step ``f`` (or ``name``), later calls ``f-2``, ``f-3``, ...
    (counted per decorated function, so build a pipeline once per process and reuse it).
    The function runs in a Ray task; its arguments and return value must pickle, and a
    JSON-serialisable return value is stored in the metadata DB. ``resources`` places the
    task with custom Ray resources (``{"worker": 0.1}``); ``runtime_env`` gives it Ray's
    runtime environment: pip requirements and environment variables
    (``{"pip": ["tabulate"], "env_vars": {"MODE": "fast"}}``), part of the cache key.

    The step's cache key covers the function's source and the source of the code it uses in
    your own modules (followed through the names it reads, transitively; library code is not
    followed). ``dependencies`` adds what its code does not name: functions, classes, modules,
    or paths to files and directories whose content then counts too.
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., FunctionStep]:
        base = name or func.__name__
        calls = itertools.count(1)
        checked_runtime_env(base, runtime_env)  # a bad one fails at the decorator, not a call

        @functools.wraps(func)
        def make_step(*args: Any, **kwargs: Any) -> FunctionStep:
            n = next(calls)
            return FunctionStep(
                base if n == 1 else f"{base}-{n}",
                function=func,
                args=args,
                kwargs=kwargs,
                cache_config=cache_config,
                retry_policies=retry_policies,
                depends_on=depends_on,
                num_cpus=num_cpus,
                num_gpus=num_gpus,
                resources=dict(resources or {}),
                runtime_env=dict(runtime_env or {}),
                display_name=display_name,
                description=description,
                dependencies=tuple(dependencies),
            )

        make_step.__wrapped_function__ = func  # type: ignore[attr-defined]
        return make_step

    return decorate(_func) if _func is not None else decorate
