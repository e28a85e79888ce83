"""The Celery application: export jobs run on its workers.

    celery -A boss_dp worker --beat      # one machine: the worker and the minute's scheduler in one process
    celery -A boss_dp worker             # each worker machine
    celery -A boss_dp beat               # exactly one scheduler in all

Its configuration is the CELERY_* settings of boss_dp/settings.py.
"""

import os
from pathlib import Path
from typing import Any

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "boss_dp.settings")

app = Celery("boss_dp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["contacts.exports"])


@app.on_after_configure.connect
def _broker_folders(sender: Celery, **kwargs: Any) -> None:
    """kombu's file-system transport (the single machine's broker when none is configured) reads and
    writes folders that must exist."""
    from django.conf import settings

    for folder in settings.CELERY_BROKER_FOLDERS:
        Path(folder).mkdir(parents=True, exist_ok=True)
