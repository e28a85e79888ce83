"""gunicorn's configuration for boss_dp contacts, read from the environment like the settings.

Graceful restart (new code or configuration, no request dropped): `kill -HUP <master pid>`. New
workers start, and each old one finishes the request it is serving, an export included, before it
exits; `kill -TERM` stops the same way. Both wait at most `graceful_timeout`.
"""

import os


def _cpus() -> int:
    """The CPUs this process may run on (a container's cpuset), not all the host's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
# Sync workers: a request waits on the database most of its time, so two per CPU plus one keep the
# CPUs busy; a long export holds only its own worker.
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * _cpus() + 1))
# gunicorn's sync worker, answering what gunicorn refuses itself (414, 431, 400…) in the envelope.
worker_class = "boss_dp.gunicorn_worker.EnvelopeSyncWorker"
# A one-sheet export of 1,048,575 rows takes a few minutes (about two on an idle 2-core machine):
# a worker is let run that long before it is deemed stuck, and a graceful restart waits for it.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "900"))
graceful_timeout = timeout
keepalive = 5
# Recycling workers now and then bounds what a slow leak can take; the jitter keeps them from
# restarting together. A worker restarts only between requests; at 2,000 a busy worker restarted
# every few seconds under load, and each restart stalled requests for a second.
max_requests = 20000
max_requests_jitter = 2000
# gunicorn trusts no forwarded header from any peer; Django alone decides what a proxy may tell:
# X-Forwarded-Proto and X-Forwarded-Host only with DJANGO_HTTPS=1, X-Forwarded-For only through
# TRUSTED_PROXY_COUNT (boss_dp/settings.py). gunicorn would otherwise turn the scheme to https on
# X-Forwarded-Proto/-Ssl/-Protocol and take SCRIPT_NAME/PATH_INFO from headers, from 127.0.0.1
# (its default) and from any unix socket peer: with no header to honour, no peer can.
# FORWARDED_ALLOW_IPS, which gunicorn reads by default, is therefore not read.
forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}
forwarder_headers = ""
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
logger_class = "boss_dp.gunicorn_logging.QuerylessLogger"
# gunicorn's control socket (one path per user) is not used here; several servers on one machine
# (the tests start many) would contend for it.
control_socket_disable = True
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# The path without its query string (%(U)s, never %(r)s or %(q)s) and no referrer: search terms,
# phone numbers and download signatures stay out of the log.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
