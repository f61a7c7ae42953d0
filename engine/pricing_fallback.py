"""Specs and prices for instance types newer than the table, derived by rule.

The table (engine/data) covers every type of the botocore release it was made
from. botocore adds types in later releases; a request naming one is valid, so
it must not fail for want of a price. Such a type is derived from its nearest
relative in the table — same family letters, same size if possible, newest
generation — scaled by vCPUs (a ``-flex`` variant at 95%), and marked as an
estimate whose source says how. A kind the table has no price for (say
transform for a type priced for training) is converted with the table's own
rules: hosting = transform, training = processing = notebook = studio, and
hosting = training x 1.165.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal

_NAME = re.compile(r"^ml\.(?P<family>[a-z0-9-]+)\.(?P<size>[a-z0-9]+)$")
_FIXED = {"nano": 2, "micro": 2, "small": 2, "medium": 2, "large": 2, "xlarge": 4}
HOSTING_RATIO = Decimal("1.165")
AS_OF = "2026-11-26"
_TRAINING_LIKE = ("training", "processing", "notebook", "studio")
_HOSTING_LIKE = ("hosting", "transform")


def parse(instance_type: str) -> tuple[str, str, str, int | None]:
    """(family, family letters, size, vCPUs or None) of ``ml.<family>.<size>``; ValueError otherwise."""
    m = _NAME.match(instance_type)
    if m is None:
        raise ValueError(instance_type)
    family, size = m["family"], m["size"]
    letters = re.match(r"[a-z]+", family).group(0)
    if size in _FIXED:
        vcpus = _FIXED[size]
    elif (n := re.fullmatch(r"(\d+)xlarge", size)) is not None:
        vcpus = 4 * int(n.group(1))
    else:
        vcpus = None
    return family, letters, size, vcpus


def _generation(family: str) -> int:
    m = re.search(r"\d+", family)
    return int(m.group(0)) if m else 0


def relative(instance_type: str, specs: Mapping) -> str | None:
    """The table's closest relative of a type it does not know."""
    family, letters, size, vcpus = parse(instance_type)
    base = family.removesuffix("-flex")
    pool = [n for n in specs if parse(n)[1] == letters]
    if not pool:
        return None
    same_base = [n for n in pool if parse(n)[0] == base]
    pool = same_base or pool

    def rank(n: str) -> tuple:
        f, _, s, v = parse(n)
        return (s == size, -abs((v or 0) - (vcpus or 0)), _generation(f), f)

    return max(pool, key=rank)


def _money(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def derive_spec(instance_type: str, specs: Mapping):
    try:
        ref = relative(instance_type, specs)
    except ValueError:
        return None
    if ref is None:
        return None
    family, _, _, vcpus = parse(instance_type)
    r = specs[ref]
    scale = (vcpus / r.vcpus) if vcpus else 1.0
    same_size = parse(ref)[2] == parse(instance_type)[2]
    return replace(r, name=instance_type, family=family, vcpus=vcpus or r.vcpus,
                   memory_gib=round(r.memory_gib * scale, 1),
                   gpus=r.gpus if same_size or not r.gpus else max(1, round(r.gpus * scale)),
                   estimate=True)


def derive_price(kind: str, instance_type: str, specs: Mapping, table: Callable[[str], Mapping], make):
    """A price for ``kind`` from the same type's other kinds, else from its relative in the table."""
    for k in (*_HOSTING_LIKE, *_TRAINING_LIKE):
        other = table(k).get(instance_type)
        if other is None:
            continue
        same_group = (k in _HOSTING_LIKE) == (kind in _HOSTING_LIKE)
        if same_group:
            usd, how = other.usd, f"the {k} price of the same type"
        elif kind in _HOSTING_LIKE:
            usd, how = _money(other.usd * HOSTING_RATIO), f"the {k} price x 1.165"
        else:
            usd, how = _money(other.usd / HOSTING_RATIO), f"the {k} price / 1.165"
        return make(usd, f"estimate: derived at run time from {how}")
    try:
        ref = relative(instance_type, specs)
    except ValueError:
        return None
    if ref is None:
        return None
    ref_price = None
    for k in (kind, *_HOSTING_LIKE, *_TRAINING_LIKE):
        if ref in table(k):
            ref_price = derive_price(kind, ref, specs, table, make) if k != kind else table(k)[ref]
            break
    if ref_price is None:
        return None
    mine, theirs = parse(instance_type)[3], specs[ref].vcpus
    factor = Decimal(mine) / Decimal(theirs) if mine else Decimal(1)
    if instance_type.split(".")[1].endswith("-flex") and not ref.split(".")[1].endswith("-flex"):
        factor *= Decimal("0.95")
    return make(_money(ref_price.usd * factor),
                f"estimate: derived at run time from {ref} ({ref_price.usd} USD/h) x {factor.normalize()} "
                "(vCPU ratio; -flex at 95%)")
