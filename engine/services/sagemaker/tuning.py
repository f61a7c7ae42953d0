"""Hyperparameter tuning jobs (CreateHyperParameterTuningJob and friends)."""

from __future__ import annotations


class Tuning:
    def __init__(self, world):
        self.world = world
