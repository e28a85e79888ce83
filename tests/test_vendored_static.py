"""The browser libraries kept under contacts/static/contacts/vendor/ are the ones package.json pins (`make vendor`)."""

import json
import re

from repository import REPO

VENDOR = REPO / "contacts" / "static" / "contacts" / "vendor"
BANNER = re.compile(r"\A/\*!\n \* Chart\.js v(?P<version>\S+)\n")


def test_the_vendored_chart_js_is_the_version_package_json_pins():
    """package.json pins one exact version, package-lock.json resolved it, and the bundle's banner names it."""
    pinned = json.loads((REPO / "package.json").read_text())["dependencies"]["chart.js"]
    locked = json.loads((REPO / "package-lock.json").read_text())["packages"]["node_modules/chart.js"]["version"]
    bundle = (VENDOR / "chart.umd.js").read_text()
    banner = BANNER.match(bundle)
    assert banner is not None
    assert re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", pinned), "an exact version, not a range"
    assert {"package-lock.json": locked, "chart.umd.js": banner["version"]} == dict.fromkeys(
        ["package-lock.json", "chart.umd.js"], pinned
    )


def test_the_vendored_chart_js_comes_with_its_licences_and_no_source_map_reference():
    """The licence file names the bundle's version and both licences; no comment points at a map left out."""
    pinned = json.loads((REPO / "package.json").read_text())["dependencies"]["chart.js"]
    licences = (VENDOR / "chart.js.LICENSE.txt").read_text()
    assert licences.startswith(f"Chart.js {pinned}\n")
    assert "Copyright (c) 2014-2024 Chart.js Contributors" in licences
    assert "Jukka Kurkela" in licences
    assert licences.count("The MIT License (MIT)") == 2
    assert "sourceMappingURL" not in (VENDOR / "chart.umd.js").read_text()
