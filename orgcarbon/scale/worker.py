"""A Celery worker that also knows the scale tasks: ``python -m orgcarbon.scale.worker -c N -Q QUEUE``.

``orgcarbon worker`` loads the modules of ``TASK_MODULES``; until ``orgcarbon.scale.tasks`` is
listed there, this entry point imports it before starting the same worker (needs
``ORGCARBON_REDIS_URL``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def announce_ready(path: str) -> None:
    """Write our pid to ``path`` once the consumer is ready (Celery's ``worker_ready`` signal).

    A file rather than a ``control.ping``: remote control goes through Redis pub/sub and went
    unanswered under load, while this needs nothing but the file system.
    """
    from celery.signals import worker_ready

    def _ready(**_: object) -> None:
        Path(path).write_text(str(os.getpid()), encoding="utf-8")

    worker_ready.connect(_ready, weak=False)


def main() -> None:
    """Build the app, register the scale tasks, run a worker on the given queue."""
    parser = argparse.ArgumentParser(description="运行规模化流水线的 Celery worker")
    parser.add_argument("-c", "--concurrency", type=int, default=2)
    parser.add_argument("-Q", "--queues", default="celery")
    parser.add_argument("--ready-file", help="写入此文件表示 worker 已开始消费队列（供基准测试等待）")
    args = parser.parse_args()
    from orgcarbon.platform.app import create_app

    app = create_app()
    import orgcarbon.scale.tasks  # noqa: F401  (registers the tasks on celery_app)

    celery = app.extensions["celery"]
    if celery.conf.task_always_eager:
        raise SystemExit("未配置 ORGCARBON_REDIS_URL：无需 worker")
    if args.ready_file:
        announce_ready(args.ready_file)
    with app.app_context():
        celery.worker_main(["worker", "--loglevel=WARNING", f"--concurrency={args.concurrency}",
                            f"--queues={args.queues}", "--prefetch-multiplier=1", "--without-gossip",
                            "--without-mingle", "--without-heartbeat"])


if __name__ == "__main__":
    main()
