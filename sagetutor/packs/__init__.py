"""Scenario packs: the YAML authoring format (docs/pack-format.md).

``load_file(path)`` reads a pack and reports every problem with its line and column;
``read_pack(path)`` returns the ``Pack`` or raises ``PackError``. The requirement language
is in ``requirements``, the plan language in ``plan``, seeded variants in ``params``.
"""

from sagetutor.packs.loader import LoadResult, PackError, Problem, load_file, load_text, read_pack
from sagetutor.packs.model import Pack

__all__ = ["LoadResult", "Pack", "PackError", "Problem", "load_file", "load_text", "read_pack"]
