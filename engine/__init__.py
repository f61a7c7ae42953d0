"""The SageTutor engine: a simulated Amazon SageMaker that really trains, in virtual time.

    from engine import Engine
    eng = Engine(seed=7)
    sm = eng.client("sagemaker")

The engine imports nothing from the app (``sagetutor``).
"""

from engine.simulator import Engine

__all__ = ["Engine"]
