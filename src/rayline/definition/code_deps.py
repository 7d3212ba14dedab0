"""The source a function step's cache key covers: its own, and the user code it depends on.

A ``@step`` function's result depends on the helpers it calls, not only on its own text. From
the function, the global names its code reads (``co_names``, nested functions and
comprehensions included) are followed, transitively, to the functions, classes and modules they
name, as long as they are the user's code: a module whose file lies outside the standard
library, site-packages and rayline itself. Their source text goes into the hash; so do the
simple constants (numbers, strings, tuples of them) the code reads from a module's globals.
Library code is not followed (its version is the environment's business), and neither is what
cannot be seen statically (``getattr(module, name)``, data files): ``dependencies=`` names
those explicitly (functions, classes, modules, or paths to files and directories).

A name is resolved the way the code would at run time: a function's globals, then an imported
module's attributes for ``module.attr`` reads. Unrelated functions in the same module are not
part of the hash, so editing them keeps the cache.
"""

from __future__ import annotations

import hashlib
import inspect
import sys
import sysconfig
import types
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from rayline.errors import PipelineDefinitionError

_CONSTANT_TYPES = (int, float, str, bytes, bool, type(None))


def dependency_source(func: Callable[..., Any], *, dependencies: Iterable[Any] = ()) -> str:
    """The text a function step's cache key hashes: ``func``'s source followed by the source of
    each user function, class and module it reaches, the constants it reads, and each explicit
    dependency, in a stable order."""
    seen: set[int] = set()
    parts: dict[str, str] = {}
    _visit(func, parts, seen, explicit=True)  # the step's own function, wherever it lives
    for dep in dependencies:
        if isinstance(dep, str | Path):
            parts[f"path:{dep}"] = _path_digest(Path(dep))
        elif inspect.ismodule(dep) or inspect.isclass(dep) or inspect.isfunction(dep):
            _visit(dep, parts, seen, explicit=True)
        else:
            raise PipelineDefinitionError(
                f"dependencies= takes functions, classes, modules or file paths; got {dep!r}"
            )
    own = parts.pop(_key(func), "")
    return "\n".join([own, *(f"# {k}\n{parts[k]}" for k in sorted(parts))])


def _visit(obj: Any, parts: dict[str, str], seen: set[int], *, explicit: bool = False) -> None:
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if inspect.ismodule(obj):
        if explicit or _is_user_module(obj):
            parts[_key(obj)] = _source(obj)
        return
    func = inspect.unwrap(obj) if callable(obj) else obj
    module = sys.modules.get(getattr(func, "__module__", "") or "")
    if not explicit and (module is None or not _is_user_module(module)):
        return
    if inspect.isclass(func):
        parts[_key(func)] = _source(func)
        for member in vars(func).values():
            inner = getattr(member, "__func__", member)  # staticmethod / classmethod
            if inspect.isfunction(inner):
                _follow_names(inner, parts, seen)
        return
    if inspect.isfunction(func):
        parts[_key(func)] = _source(func)
        _follow_names(func, parts, seen)


def _follow_names(func: types.FunctionType, parts: dict[str, str], seen: set[int]) -> None:
    """Visit what the global names ``func`` reads refer to (and ``module.attr`` reads)."""
    names = set(_names(func.__code__))
    scope = func.__globals__
    for name in sorted(names):
        if name in scope:
            value = scope[name]
        elif name in sys.modules:  # ``import m`` / ``from m import f`` inside the function
            value = sys.modules[name]
        else:
            continue
        if inspect.ismodule(value):
            if _is_user_module(value):
                for attr in sorted(names):
                    member = getattr(value, attr, None)
                    if member is not None and not inspect.ismodule(member):
                        _visit_value(f"{value.__name__}.{attr}", member, parts, seen)
            continue
        _visit_value(f"{scope.get('__name__', '?')}.{name}", value, parts, seen)
    if func.__closure__:
        for cell in func.__closure__:
            try:
                contents = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if inspect.isfunction(contents) or inspect.isclass(contents):
                _visit(contents, parts, seen)


def _visit_value(where: str, value: Any, parts: dict[str, str], seen: set[int]) -> None:
    if inspect.isfunction(value) or inspect.isclass(value):
        _visit(value, parts, seen)
    elif _is_constant(value):
        parts[f"const:{where}"] = repr(value)


def _names(code: types.CodeType) -> Iterator[str]:
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _names(const)


def _is_constant(value: Any) -> bool:
    if isinstance(value, _CONSTANT_TYPES):
        return True
    if isinstance(value, tuple | frozenset):
        return all(_is_constant(v) for v in value)
    return False


def _key(obj: Any) -> str:
    if inspect.ismodule(obj):
        return f"module:{obj.__name__}"
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def _source(obj: Any) -> str:
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        # No source to read (defined in a REPL, a C extension): its identity is all there is.
        return f"<no source: {_key(obj)}>"


def _path_digest(path: Path) -> str:
    if not path.exists():
        raise PipelineDefinitionError(
            f"dependencies=: {str(path)!r} does not exist (looked at {path.resolve()})"
        )
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for f in files:
        digest.update(str(f.relative_to(path) if f != path else f.name).encode())
        digest.update(hashlib.sha256(f.read_bytes()).digest())
    return digest.hexdigest()


def _is_user_module(module: types.ModuleType) -> bool:
    name = module.__name__
    if name == "__main__":
        return True
    if name == "rayline" or name.startswith("rayline."):
        return False
    file = getattr(module, "__file__", None)
    if not file:  # built-in or namespace package
        return False
    resolved = str(Path(file).resolve())
    return not any(resolved.startswith(prefix) for prefix in _library_prefixes())


@cache
def _library_prefixes() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    roots.update(p for p in sys.path if p.endswith(("site-packages", "dist-packages")))
    return tuple(str(Path(r).resolve()) + "/" for r in roots if r)
