"""Framework-free core of tingshu: settings, text, engines, audio, storage and the job store.

Nothing in this package imports Flask or Celery, so the API, the workers and the embedded
CLI all share it.
"""
