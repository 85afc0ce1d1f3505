"""The deployment files stay true: the shipped systemd unit is valid and matches what the
daemon does, and the README's crontab line and unit instructions work as written."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner

from aggregator.cli import cli

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text("utf-8")


def unit_text() -> str:
    return (resources.files("aggregator") / "deploy" / "aggregator.service").read_text("utf-8")


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    parser.read_string(unit_text())
    return parser


def test_the_unit_is_shipped_in_the_package_and_runs_the_daemon() -> None:
    service = unit()["Service"]
    command = service["ExecStart"].split()
    assert command[0].endswith("/bin/aggregator")
    assert command[-1] == "run"  # the daemon, not --once
    # what the daemon does with signals (aggregator/scheduler.py) is what the unit asks for
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["KillSignal"] == "SIGTERM"
    assert int(service["TimeoutStopSec"]) > 10  # the daemon exits within 10 s
    assert service["Restart"] == "on-failure"
    assert service["WorkingDirectory"] in service["ReadWritePaths"].split()
    assert unit()["Install"]["WantedBy"] == "multi-user.target"


def test_the_units_options_parse_on_the_daemons_command_line() -> None:
    command = unit()["Service"]["ExecStart"].split()[1:]
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, result.output


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    """``systemd-analyze verify`` on the unit, its paths pointed at this checkout (it checks
    that the commands exist)."""
    text = unit_text().replace("/srv/aggregator/.venv/bin/aggregator", str(aggregator_bin()))
    text = text.replace("/srv/aggregator", str(tmp_path))
    path = tmp_path / "aggregator.service"
    path.write_text(text)
    done = subprocess.run(
        ["systemd-analyze", "verify", str(path)], capture_output=True, text=True, check=False
    )
    problems = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        # a container without systemd as PID 1 cannot look some things up; that is not ours
        if "aggregator.service" in line
    ]
    assert problems == [], done.stdout + done.stderr
    assert done.returncode == 0, done.stdout + done.stderr


def aggregator_bin() -> Path:
    found = Path(sys.executable).parent / "aggregator"
    if not found.exists():
        pytest.skip("the aggregator script is not beside this interpreter")
    return found


def test_the_readme_crontab_line_is_a_valid_run() -> None:
    lines = re.findall(r"^(\*/\d+ \* \* \* \* .+)$", README, re.M)
    assert lines, "the README shows a crontab line"
    for line in lines:
        command = line.split(None, 5)[5]
        found = re.search(r"bin/aggregator (.+)$", command)
        assert found, line
        args = found.group(1).split()
        assert "--once" in args  # cron runs single passes; the lock keeps them apart
        result = CliRunner().invoke(cli, [*args, "--help"])
        assert result.exit_code == 0, result.output


def test_the_readme_points_at_the_shipped_unit() -> None:
    assert "aggregator/deploy/aggregator.service" in README
    assert "systemctl reload aggregator" in README
