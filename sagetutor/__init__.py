"""SageTutor: learn Amazon SageMaker for AWS exams on a simulated SageMaker that really runs."""

__version__ = "0.1.0"
