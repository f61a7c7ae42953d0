"""The quiz runtime: scoring now; running each option's plan on the engine comes next.

Headless (no UI imports): the TUI and the grader both use it.
"""

from sagetutor.quiz.scoring import (
    DomainResult,
    ExamResult,
    ItemResult,
    exam_result,
    scaled_estimate,
    score_choices,
    score_question,
    score_slots,
)

__all__ = ["DomainResult", "ExamResult", "ItemResult", "exam_result", "scaled_estimate", "score_choices",
           "score_question", "score_slots"]
