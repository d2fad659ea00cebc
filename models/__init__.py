"""Every lesson of the course as a reference workload: models.LESSONS, "1.1" to "6.5" in the course's order."""

from models import week1, week2, week3, week4, week5, week6  # noqa: F401  (each week's module declares its lessons)
from models.lesson import LESSONS, Lesson, Result

__all__ = ["LESSONS", "Lesson", "Result"]
