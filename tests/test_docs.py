"""The docs: a MkDocs site that builds with ``--strict`` (a broken link or anchor fails),
generated references that equal their generators' output, and a README that stays a
front page."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from exporter.settings.load import ServerSettings, Settings
from exporter.settings.schema import BY_PATH, KEYS, markdown

ROOT = Path(__file__).resolve().parents[1]


def test_the_site_builds_strict(tmp_path: Path) -> None:
    if shutil.which("mkdocs", path=str(Path(sys.executable).parent)) is None:
        if os.environ.get("CI") == "true":
            pytest.fail("mkdocs is missing: pip install -e '.[dev]' installs it")
        pytest.skip("mkdocs not installed (pip install -e '.[docs]')")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "mkdocs"), "build", "--strict", "-q",
         "-d", str(tmp_path / "site")], cwd=ROOT, capture_output=True, text=True,
        timeout=120, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "site/runbooks/index.html").exists()


def test_the_configuration_reference_is_generated_from_the_schema() -> None:
    page = (ROOT / "docs/reference/configuration.md").read_text()
    assert page == markdown(), \
        "stale: llm-exporter settings > docs/reference/configuration.md"


def test_the_schema_and_the_loader_agree() -> None:
    """Every key of the schema is read by the loader with the schema's default, and every
    field of the settings has a key (secrets by their *_file key)."""
    loaded = Settings.load(env={})
    for key in KEYS:
        if key.section == "server" and not key.name.endswith("_file"):
            value = getattr(loaded.server, key.name)
            assert value == getattr(ServerSettings(), key.name), key.path
            want = tuple(key.default) if isinstance(key.default, list) else key.default
            assert value == want, key.path
    server_fields = {f.name for f in fields(ServerSettings)}
    keyed = {k.name.removesuffix("_file") for k in KEYS if k.section == "server"}
    assert server_fields == keyed, server_fields ^ keyed
    assert loaded.series_budget == BY_PATH["labels.series_budget"].default
    assert loaded.zero_hold_seconds == BY_PATH["zero_hold_seconds"].default


def test_a_bound_from_the_schema_is_what_the_loader_enforces(tmp_path: Path) -> None:
    from exporter import ConfigError

    key = BY_PATH["server.max_connections"]
    assert key.high is not None
    with pytest.raises(ConfigError, match=r"server.max_connections: must be an integer in "
                                          rf"1..{key.high:.0f}"):
        Settings.load(env={key.env: str(int(key.high) + 1)})  # type: ignore[dict-item]


def test_the_readme_is_a_front_page_and_its_links_resolve() -> None:
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) < 300
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    commands = [line for line in blocks[0].splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2 and "llm-exporter demo" in commands[0] \
        and commands[1].endswith("python -m pytest")
    for target in re.findall(r"\]\((docs/[^)#]+)", text):
        assert (ROOT / target).exists(), target


def test_the_ci_runs_the_readmes_test_command() -> None:
    text = (ROOT / "README.md").read_text()
    command = re.findall(r"```bash\n(.*?)```", text, re.S)[0].strip().splitlines()[-1]
    assert command in (ROOT / ".ci/run").read_text()
