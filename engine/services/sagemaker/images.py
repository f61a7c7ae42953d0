"""Container image URIs: the built-ins' real-looking ECR URIs and what an image means.

AWS publishes first-party algorithm images from per-region registry accounts; in
us-east-1 XGBoost and the framework images come from 683313688378 and the other
built-ins from 382416733822. An image in the learner's own account is a
bring-your-own container pushed to the engine's ECR.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.algorithms import BUILTINS

REGION = "us-east-1"
FRAMEWORK_ACCOUNT = "683313688378"
ALGORITHM_ACCOUNT = "382416733822"
SKLEARN_REPOSITORY = "sagemaker-scikit-learn"
SKLEARN_TAG = "1.2-1-cpu-py3"

_URI = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<repo>[^:@]+)(?::(?P<tag>[^@]+))?(?:@(?P<digest>sha256:[0-9a-f]+))?$")


def _registry(repository: str) -> str:
    return FRAMEWORK_ACCOUNT if repository.startswith("sagemaker-") else ALGORITHM_ACCOUNT


def image_uri(name: str) -> str:
    """The image URI for a built-in (engine name, e.g. "xgboost") or "sklearn" (script mode)."""
    if name in ("sklearn", "scikit-learn", "sagemaker-scikit-learn"):
        return f"{FRAMEWORK_ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{SKLEARN_REPOSITORY}:{SKLEARN_TAG}"
    algo = BUILTINS.get(name)
    if algo is None:
        known = ", ".join(sorted([*BUILTINS, "sklearn"]))
        raise KeyError(f"no built-in algorithm named {name!r}; known: {known}")
    return f"{_registry(algo.repository)}.dkr.ecr.{REGION}.amazonaws.com/{algo.repository}:{algo.tag}"


@dataclass(frozen=True)
class Image:
    kind: str  # "builtin", "sklearn", "custom"
    uri: str
    account: str
    repository: str
    tag: str
    algorithm: str | None = None  # engine name for built-ins


def resolve(uri: str, own_account: str) -> Image | None:
    """What an image URI refers to, or None when it is none of the images the engine knows."""
    m = _URI.match(uri)
    if m is None:
        return None
    account, repo, tag = m["account"], m["repo"], m["tag"] or "latest"
    if account == own_account:
        return Image("custom", uri, account, repo, tag)
    if m["region"] != REGION:
        return None
    if repo == SKLEARN_REPOSITORY and account == FRAMEWORK_ACCOUNT:
        return Image("sklearn", uri, account, repo, tag)
    for algo in BUILTINS.values():
        if algo.repository == repo and account == _registry(repo):
            return Image("builtin", uri, account, repo, tag, algo.name)
    return None
