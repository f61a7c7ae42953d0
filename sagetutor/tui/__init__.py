"""The Textual TUI: practice, timed exams, spaced review, the lab and the study notes.

It renders what the quiz runtime (``sagetutor.quiz``) and the engine return and sends the
learner's actions back; it adds no simulation logic of its own.
"""
