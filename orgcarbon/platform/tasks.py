"""The Celery application and how it is bound to a Flask app.

Without ``ORGCARBON_REDIS_URL`` tasks run eagerly in the calling process (``memory://`` broker, no
worker needed), so ``make run`` works alone. With it, Redis is broker and result backend and
``orgcarbon worker`` starts workers on any number of machines. Tasks take ids, never ORM objects,
have explicit names and run inside an application context.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from flask import Flask


class AppContextTask(Task):  # type: ignore[misc]
    """A task that runs inside the Flask application context it was bound to."""

    abstract = True
    flask_app: Flask | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        app = type(self).flask_app or AppContextTask.flask_app
        if app is None:
            raise RuntimeError("Celery task called before init_celery(app)")
        with app.app_context():
            return super().__call__(*args, **kwargs)


celery_app = Celery("orgcarbon", task_cls=AppContextTask)

# Modules that define tasks; a new one is added here so that workers know its tasks too.
TASK_MODULES: tuple[str, ...] = (
    "orgcarbon.platform.jobs",
    "orgcarbon.accounting.tasks",
    "orgcarbon.forms.tasks",
    "orgcarbon.quality.tasks",
    "orgcarbon.security.backup",
    "orgcarbon.collection.tasks",
    "orgcarbon.reports.tasks",
    "orgcarbon.scale.tasks",
)


def _forget_connections(celery: Celery) -> None:
    # Celery caches its broker pool and result backend on first use. A process builds one app in
    # production, but tests build several with different brokers: drop what the last one cached.
    celery._after_fork()
    celery._backend_cache = None
    if hasattr(celery._local, "backend"):
        del celery._local.backend


def init_celery(app: Flask, celery: Celery) -> Celery:
    """Configure ``celery`` from the app's settings and bind its tasks to ``app``."""
    redis_url = app.config.get("REDIS_URL")
    if celery.conf.broker_url != (redis_url or "memory://"):
        _forget_connections(celery)
    if redis_url:
        celery.conf.update(
            broker_url=redis_url,
            result_backend=redis_url,
            task_always_eager=False,
            broker_connection_retry_on_startup=True,
        )
    else:
        celery.conf.update(
            broker_url="memory://",
            result_backend="cache+memory://",
            task_always_eager=True,
            task_eager_propagates=True,
        )
    celery.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_track_started=True,
        worker_hijack_root_logger=False,
        result_expires=3600,
    )
    AppContextTask.flask_app = app
    app.extensions["celery"] = celery
    # Importing registers the tasks on celery_app, in the web process and in every worker.
    import importlib

    for module in TASK_MODULES:
        importlib.import_module(module)

    return celery
