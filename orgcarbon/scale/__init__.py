"""Scale: a synthetic steel group (generator), the end-to-end pipeline split into Celery tasks."""
