"""Retry settings for tasks that do I/O (store, archive, MLflow); compute tasks never retry."""

IO_RETRIES = dict(retries=2, retry_delay_seconds=[1, 5])
TRACKING_RETRIES = dict(retries=3, retry_delay_seconds=[1, 4, 10])
