"""The service as it is deployed, driven from outside: shared by the test suite and the benchmark.

- `harness.service`: manage.py commands and gunicorn started with the repository's gunicorn.conf.py;
- `harness.client`: one HTTP request to it;
- `harness.postgres`: databases created and dropped on a PostgreSQL server;
- `harness.worker`: a Celery worker running the export jobs, and a private redis-server for its broker.

tests/served.py builds the suite's served tests on it, bench/run.py the benchmark. Both import it by
its name from the repository's root: pytest through `pythonpath` in pytest.ini, bench/run.py through
the one line that puts the repository on its import path.
"""
