"""Running c4 on AWS Batch: resources, submission, status, re-runs, local rehearsal, IAM."""

from __future__ import annotations

from c4.batch.config import BatchConfig

__all__ = ["BatchConfig"]
