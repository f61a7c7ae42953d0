"""Widgets grouped by what they show: a question, an outcome, a bill, a timeline, charts.

Public names (used by every screen, the exam and the lab too): ``question.QuestionView``,
``outcome.OutcomeView``, ``bill.BillTable``, ``timeline.TimelineView``, ``charts.BarChart``,
``charts.SeriesChart``.
"""
