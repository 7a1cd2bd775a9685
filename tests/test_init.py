"""The public API: what ``import exporter`` offers, and what it does not load."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import types
from pathlib import Path

import exporter

ROOT = Path(__file__).resolve().parents[1]


def test_public_api_is_pinned() -> None:
    assert sorted(exporter.__all__) == sorted([
        "AnthropicInstrumentor", "AsyncSidecarClient", "Call", "ConfigError", "LLMMetrics",
        "OTelMetrics", "OpenAIInstrumentor", "Pool", "PriceBook", "PriceOverride", "Rates",
        "Settings", "SidecarClient", "__version__", "classify_error", "from_anthropic",
        "from_openai", "labels", "multiprocess", "resource_collectors",
        "start_metrics_server"])


def test_every_name_in_all_resolves() -> None:
    for name in exporter.__all__:
        assert getattr(exporter, name) is not None, name
    assert exporter.multiprocess.prepare is not None


def test_every_public_attribute_is_in_all() -> None:
    public = {name for name, value in vars(exporter).items()
              if not name.startswith("_") and not isinstance(value, types.ModuleType)
              and name not in ("annotations", "import_module", "version",
                               "PackageNotFoundError", "TYPE_CHECKING", "Any")}
    assert public <= set(exporter.__all__), public - set(exporter.__all__)


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return set(out.stdout.split())


def test_the_client_loads_neither_the_server_nor_uvicorn() -> None:
    loaded = _loaded_after("import exporter.client")
    assert "exporter.ingest.events" in loaded
    assert not {m for m in loaded if m.startswith(("exporter.server", "uvicorn"))}


def test_import_exporter_stays_light() -> None:
    loaded = _loaded_after("import exporter")
    heavy = {"exporter.otel", "exporter.client", "exporter.server", "exporter.mixin",
             "opentelemetry", "uvicorn", "psutil", "pynvml", "genai_prices", "grafanalib",
             "yaml"}
    assert not heavy & loaded, heavy & loaded


def test_the_readme_only_sends_users_to_public_names() -> None:
    """``from exporter.x import y`` in the README names a public module or name (the
    changelog may name what moved)."""
    text = (ROOT / "README.md").read_text().split("## Changelog")[0]
    public_modules = {"exporter", "exporter.multiprocess", "exporter.compat",
                      "exporter.integrations.litellm"}
    for module, names in re.findall(r"from (exporter[\w.]*) import ([\w, ]+)", text):
        assert module in public_modules, f"README imports from internal {module}"
        if module in ("exporter", "exporter.compat", "exporter.integrations.litellm"):
            for name in (n.strip() for n in names.split(",")):
                assert name in importlib.import_module(module).__all__, name
    for internal in re.findall(r"`(exporter\.[a-z_.]+)", text):
        top = internal.split(".")[1]
        assert top in exporter.__all__ or internal in public_modules, internal


def test_modules_and_classes_stay_readable() -> None:
    """No module in exporter/ over 400 lines, no class over 300, unless its docstring
    gives the reason (a line starting "Long because")."""
    import ast

    too_long = []
    for path in sorted((ROOT / "exporter").rglob("*.py")):
        source = path.read_text()
        tree = ast.parse(source)
        excused = "Long because" in (ast.get_docstring(tree) or "")
        if len(source.splitlines()) > 400 and not excused:
            too_long.append(f"{path.relative_to(ROOT)}: {len(source.splitlines())} lines")
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                size = node.end_lineno - node.lineno + 1
                if size > 300 and "Long because" not in (ast.get_docstring(node) or ""):
                    too_long.append(f"{path.relative_to(ROOT)}:{node.name}: {size} lines")
    assert not too_long, too_long
