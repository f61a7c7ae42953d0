"""The ``sagetutor-datasets`` bucket: small real datasets, built from the engine seed.

Tabular data come from the sets bundled inside scikit-learn (no network); text,
time series and clusters are generated with ``numpy.random.default_rng``. The
layout contract is documented in ``docs/datasets.md``.
"""

from engine.datasets.build import dataset_objects, objects
from engine.datasets.catalog import BUCKET, CATALOG, DatasetInfo

__all__ = ["BUCKET", "CATALOG", "DatasetInfo", "dataset_objects", "objects"]
