"""Every broken pack gives exactly its expected problems, at the expected line and column.

Each file in broken/ starts with ``# mistake: ...`` (what the author did wrong) and one
``# expect: LINE:COLUMN: message`` per problem the loader must report - no more, no fewer.
"""

from __future__ import annotations

import re

import pytest

from sagetutor.packs import load_file

from .conftest import BROKEN

EXPECT = re.compile(r"^# expect: (\d+):(\d+): (.*)$")


def _header(path):
    mistake, expected = None, []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        if line.startswith("# mistake: "):
            mistake = line.removeprefix("# mistake: ")
        m = EXPECT.match(line)
        if m:
            expected.append((int(m.group(1)), int(m.group(2)), m.group(3)))
    return mistake, expected


def test_corpus_has_many_distinct_mistakes():
    mistakes = {_header(p)[0] for p in BROKEN}
    assert None not in mistakes
    assert len(mistakes) == len(BROKEN) >= 25


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_pack_reports_expected_problems(path):
    mistake, expected = _header(path)
    assert expected, f"{path.name} declares no # expect: line"
    result = load_file(path)
    assert not result.ok and result.pack is None
    got = [(p.line, p.column, p.message) for p in result.problems]
    assert got == expected
    for p in result.problems:
        assert str(p) == f"{path}:{p.line}:{p.column}: {p.message}"
        assert "Traceback" not in p.message and "pydantic" not in p.message
