"""Celery tasks of the reports package (rendering a report)."""

from __future__ import annotations
