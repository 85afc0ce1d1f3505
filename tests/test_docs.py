"""The README stays true: commands, settings and the CI command are documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from aggregator.cli import cli
from aggregator.config import SETTINGS

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text("utf-8")


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_is_documented_and_has_help(name: str) -> None:
    assert f"`aggregator {name}" in README
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0
    assert cli.commands[name].help


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_documented(setting: object) -> None:
    name = setting.name  # type: ignore[attr-defined]
    assert re.search(rf"^\| `{name}` \|", README, re.M), f"settings.{name} missing from README"


def test_ci_runs_the_readme_commands() -> None:
    blocks = re.findall(r"```sh\n(.+?)\n```", README, re.S)
    demo, tests = blocks[0], blocks[1]
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert tests in ci.splitlines(), "the README's test command must appear verbatim in .ci/run"
    assert "aggregator demo" in demo
    assert "aggregator demo" in ci


def test_readme_documents_every_table() -> None:
    for table in ("feeds", "entries", "stories", "fetch_log"):
        assert f"| `{table}` |" in README
