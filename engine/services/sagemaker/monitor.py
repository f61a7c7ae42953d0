"""Model Monitor: data capture, baselining processing jobs, data-quality job definitions and schedules."""

from __future__ import annotations


class Monitoring:
    def __init__(self, world):
        self.world = world
