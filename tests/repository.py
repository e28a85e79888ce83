"""The repository's tracked files, as `git ls-files` lists them (the test needs git and a checkout)."""

import subprocess
from pathlib import Path

from services import git_checkout_problem, require_service

REPO = Path(__file__).resolve().parent.parent


def tracked_files() -> list[Path]:
    """Every tracked file's path, skipping the test (or failing it under REQUIRE_SERVICES=1) without git."""
    require_service("git", lambda: git_checkout_problem(REPO))
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, check=True).stdout
    return [REPO / name for name in listed.decode().split("\0") if name]
