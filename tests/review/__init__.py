"""Tests of the review feature: ``snavc diff``, ``snavc plan``, the lock (T5) and the
report (text, markdown, JSON and its schema, user templates)."""
