"""Celery side of tingshu: the app, its delivery settings, and the chunk/merge tasks."""
