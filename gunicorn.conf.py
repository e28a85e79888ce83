"""gunicorn's configuration for boss_dp contacts, read from the environment like the settings."""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
# A one-sheet export of 1,048,575 rows takes a few minutes; the worker must be let finish it,
# and a graceful restart must wait for it too.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "900"))
graceful_timeout = timeout
keepalive = 5
max_requests = 2000
max_requests_jitter = 200
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
# The path without its query string: search terms and download signatures stay out of the log.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
