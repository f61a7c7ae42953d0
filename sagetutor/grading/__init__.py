"""Classroom exams: student packs, per-student draws, attempt files, and (the teacher's side) grading.

Modules: ``attempt`` (attempt files), ``draw`` (``pack_hash`` and ``student_exam``),
``student_pack`` (``pack export --for-students``), ``headless`` (``exam --headless``), and the
teacher's ``grade`` (grading a class) and ``gradebook`` (the CSV, Gradescope, JUnit and feedback
writers, ``sagetutor grade``);
docs/classroom.md describes them. Nothing here imports Textual.
"""
