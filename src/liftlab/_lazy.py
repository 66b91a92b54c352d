"""Lazy re-exports (PEP 562): a package names its public objects without importing them.

`import liftlab` must not pay for pandas, SciPy and SQLAlchemy when all a caller wants is
`liftlab --help` or the experiment types an experiment file imports. So a package's
`__init__` maps each public name to the module that defines it, and the module is imported
the first time the name is read (`liftlab.analyze`, `from liftlab import analyze`); the value
is then kept on the package, so later reads cost nothing. `dir()` and `__all__` list every
name, loaded or not. A subpackage or module read as an attribute (`liftlab.stats` after
`import liftlab`) is imported on first read too, as it was when the package imported it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`, given {public name: defining module}."""

    def __getattr__(name: str) -> object:
        module = exports.get(name)
        if module is None:
            if not name.startswith("__") and importlib.util.find_spec(f"{package}.{name}") is not None:
                return importlib.import_module(f"{package}.{name}")
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
