"""Step Functions: state machines in Amazon States Language, executed in virtual time."""

from __future__ import annotations


class StepFunctions:
    def __init__(self, world):
        self.world = world
