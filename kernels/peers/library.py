"""A peer library as its variants see it: pinned, imported only when one of its rows is reached, and when it is
missing, at another version or failing to import, a skip reason that says so and how to install it.

The pin is the one in pyproject.toml's `peers` extra (a test keeps the two equal): a wrapper calls the library's
functions by their signatures, which change between versions.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
from dataclasses import dataclass
from types import ModuleType

INSTALL = "pip install -e '.[peers]' (make bench PEERS=1)"


@dataclass(frozen=True)
class Library:
    dist: str  # the name pip knows it by: "liger-kernel"
    module: str  # the name Python imports: "liger_kernel"
    pin: str  # the one version the wrappers are written for

    @property
    def label(self) -> str:
        return f"{self.dist} {self.pin}"

    def missing(self) -> str | None:
        """Why the library cannot be used here, or None. The import is tried once, and any exception it raises
        (FlagGems raises RuntimeError where it finds no GPU) becomes the reason."""
        return _missing(self)

    def load(self) -> ModuleType:
        """The imported library; raises RuntimeError with the reason where it cannot be used."""
        reason = self.missing()
        if reason:
            raise RuntimeError(reason)
        return importlib.import_module(self.module)


@functools.cache
def _missing(lib: Library) -> str | None:
    try:
        version = importlib.metadata.version(lib.dist)
    except importlib.metadata.PackageNotFoundError:
        return f"{lib.dist} is not installed: {INSTALL}"
    if version != lib.pin:
        return f"{lib.dist} {version} is installed; its wrappers are written for {lib.pin}: {INSTALL}"
    try:
        importlib.import_module(lib.module)
    except Exception as e:  # noqa: BLE001 - any failure to import is a reason to skip, shown as it was raised
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return f"{lib.label} does not import here: {type(e).__name__}: {first}"
    return None
