"""The layering rules of DESIGN.md and STYLE.md, checked on the source tree.

- ``mlqa_debug`` outside ``mlqa_debug.ui`` never imports streamlit, and heavy
  optional libraries (shap, umap) are imported inside the functions that use them;
- user text is never evaluated: no ``eval(``/``exec(``, no ``.query(`` (except on a
  spatial index such as ``KDTree``, whose ``query`` is a nearest-neighbour search) and
  no ``pickle.load`` in the library, the pages or ``app.py``.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "mlqa_debug"
HEAVY = ("streamlit", "shap", "umap")


def library_modules() -> list[str]:
    """Every module of mlqa_debug except mlqa_debug.ui.*, as dotted names."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        if "ui" in parts[1:2] or "_app" in parts or parts[-1] == "__main__":
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def source_files(*roots: Path) -> list[Path]:
    files: list[Path] = []
    for root in roots:
        files += [root] if root.is_file() else sorted(root.rglob("*.py"))
    return files


def test_library_modules_are_found() -> None:
    modules = library_modules()
    assert {
        "mlqa_debug",
        "mlqa_debug.data.predictions",
        "mlqa_debug.data.schema",
        "mlqa_debug.cli.main",
    } <= set(modules)
    assert not any(m.startswith("mlqa_debug.ui") for m in modules)


def loaded_after_import(modules: list[str]) -> dict[str, list[str]]:
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps({{h: sorted(m for m in sys.modules if m == h or m.startswith(h + '.'))"
        f" for h in {HEAVY!r}}}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert result.returncode == 0, result.stderr
    loaded: dict[str, list[str]] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def test_import_mlqa_debug_leaves_heavy_libraries_out() -> None:
    assert loaded_after_import(["mlqa_debug"]) == {h: [] for h in HEAVY}


def test_importing_every_library_module_leaves_heavy_libraries_out() -> None:
    assert loaded_after_import(library_modules()) == {h: [] for h in HEAVY}


def test_packages_and_the_cli_leave_plotly_to_the_figures_modules() -> None:
    """A package's ``__init__`` is its computing API; figures are imported on their own."""
    packages = [m for m in library_modules() if m.count(".") <= 2 and not m.endswith("figures")]
    code = (
        "import importlib, sys\n"
        f"for name in {[*packages, 'mlqa_debug.cli.main']!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.startswith('plotly')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_check_would_see_streamlit() -> None:
    """The subprocess check itself works: importing the UI package does load streamlit."""
    assert loaded_after_import(["mlqa_debug.ui.state"])["streamlit"] != []


def imported_top_levels(path: Path) -> dict[str, int]:
    """Top-level package names imported at module level (not inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: dict[str, int] = {}
    for node in tree.body:
        nodes = [node]
        if isinstance(node, ast.If | ast.Try):  # e.g. try: import x / if TYPE_CHECKING
            nodes = list(ast.walk(node))
        for item in nodes:
            if isinstance(item, ast.Import):
                for alias in item.names:
                    found[alias.name.split(".")[0]] = item.lineno
            elif isinstance(item, ast.ImportFrom) and item.module and item.level == 0:
                found[item.module.split(".")[0]] = item.lineno
    return found


LIBRARY_FILES = [p for p in source_files(PACKAGE) if "ui" not in p.relative_to(PACKAGE).parts[:1]]


@pytest.mark.parametrize("path", LIBRARY_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_streamlit_import_in_the_library(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"^\s*(import|from)\s+streamlit\b", text, re.MULTILINE)
    top = imported_top_levels(path)
    assert "shap" not in top and "umap" not in top, f"import shap/umap inside functions: {top}"


CHECKED_FILES = source_files(PACKAGE, REPO / "pages", REPO / "app.py")
FORBIDDEN = {
    "eval(": re.compile(r"\beval\("),  # eval, pd.eval, df.eval; not ast.literal_eval
    "exec(": re.compile(r"(?<![\w.])exec\("),
    "pickle.load": re.compile(r"pickle\.loads?\("),
    "import pickle": re.compile(r"^\s*(import pickle|from pickle import)", re.MULTILINE),
}
SPATIAL_INDEX = re.compile(r"tree", re.IGNORECASE)  # KDTree(...).query, self._tree.query


def _receiver_name(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def query_calls(text: str) -> list[int]:
    """Lines calling ``.query(`` on anything but a spatial index (DataFrame.query runs code)."""
    lines = []
    for node in ast.walk(ast.parse(text)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "query"
            and not SPATIAL_INDEX.search(_receiver_name(node.func.value))
        ):
            lines.append(node.lineno)
    return lines


def forbidden_uses(text: str) -> list[str]:
    hits = [what for what, pattern in FORBIDDEN.items() if pattern.search(text)]
    return hits + [f".query( on line {n}" for n in query_calls(text)]


@pytest.mark.parametrize("path", CHECKED_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_code_evaluation(path: Path) -> None:
    hits = forbidden_uses(path.read_text(encoding="utf-8"))
    assert hits == [], f"{path.relative_to(REPO)} uses {hits}"


@pytest.mark.parametrize(
    "snippet",
    [
        "x = eval(text)",
        "x = pd.eval(text)",
        "frame.eval('a + b')",
        "exec(code)",
        "df.query(user_text)",
        "predictions.frame.query(f'`{col}` > {value}')",
        "pickle.load(f)",
        "pickle.loads(b)",
        "import pickle",
        "from pickle import loads",
    ],
)
def test_forbidden_patterns_match(snippet: str) -> None:
    assert forbidden_uses(snippet)


@pytest.mark.parametrize(
    "snippet",
    [
        "ast.literal_eval(text)",
        "KDTree(points).query(others, k=1)",
        "self._tree.query(x)",
        "nearest = ball_tree.query(x)",
        "query = 'no call'",
    ],
)
def test_allowed_patterns_do_not_match(snippet: str) -> None:
    assert forbidden_uses(snippet) == []


def test_checked_files_include_pages_and_app() -> None:
    names = {p.relative_to(REPO).as_posix() for p in CHECKED_FILES}
    assert {
        "app.py",
        "pages/data.py",
        "mlqa_debug/data/predictions.py",
        "mlqa_debug/ui/state.py",
    } <= names


def test_ruff_bans_streamlit_in_the_library() -> None:
    """The rule is configuration too: ruff's banned-api refuses streamlit outside the UI."""
    probe = "import streamlit as st\n\nst.write(1)\n"
    ruff = [sys.executable, "-m", "ruff", "check", "--no-cache", "--select", "TID251"]

    def check(path: str) -> subprocess.CompletedProcess[str]:
        command = [*ruff, "--stdin-filename", path, "-"]
        return subprocess.run(command, input=probe, capture_output=True, text=True, cwd=REPO)

    library = check("mlqa_debug/analyses/probe.py")
    assert library.returncode == 1 and "TID251" in library.stdout, library.stdout
    assert check("mlqa_debug/ui/probe.py").returncode == 0
    assert check("pages/probe.py").returncode == 0


PAGES_DIR = REPO / "pages"


@pytest.mark.parametrize("page", sorted(PAGES_DIR.glob("*.py")), ids=lambda p: p.name)
def test_pages_read_the_url_only_through_the_page_context(page: Path) -> None:
    source = page.read_text()
    assert "query_params" not in source
    assert "open_page(" in source  # one call at the top sets the page up
    assert not re.search(r"""["'](ds|vs|fp)["']""", source)  # parameter names live in ui.links


def test_url_parameter_names_are_spelled_once() -> None:
    """``"ds"`` and its siblings are written in mlqa_debug/ui/links.py only."""
    found = [
        f"{path.relative_to(REPO)}:{n}"
        for path in source_files(PACKAGE / "ui")
        if path.name != "links.py"
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if re.search(r"""["'](ds|vs|fp)["']""", line)
    ]
    assert found == []
