"""The web application: factory, extensions, views that are not generated, CLI, Celery app."""
