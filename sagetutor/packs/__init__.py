"""Scenario packs: the YAML authoring format (docs/pack-format.md).

``load_file(path)`` reads a pack and reports every problem with its line and column;
``read_pack(path)`` returns the ``Pack`` or raises ``PackError``. The requirement language
is in ``requirements``, the plan language in ``plan``, seeded variants in ``params``.

The names below are imported on first use (PEP 562), so importing a light submodule such as
``sagetutor.packs.paths`` does not pull in the loader, YAML and pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sagetutor.packs.loader import LoadResult, PackError, Problem, load_file, load_text, read_pack
    from sagetutor.packs.model import Pack

__all__ = ["LoadResult", "Pack", "PackError", "Problem", "load_file", "load_text", "read_pack"]
_HOME = {"Pack": "sagetutor.packs.model", **{name: "sagetutor.packs.loader" for name in __all__ if name != "Pack"}}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
