"""The service's own settings, with URLs that add the benchmark's trivial view."""

from boss_dp.settings import *  # noqa: F403

ROOT_URLCONF = "benchsite.urls"
