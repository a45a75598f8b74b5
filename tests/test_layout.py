"""The layout the README promises: import directions and no cycles."""


def test_portal_imports_the_bridge_only_in_the_command_that_starts_it():
    """access_bridge/ depends on the portal; the portal imports access_bridge only in portal/bridge/commands.py."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    allowed = {Path("portal/bridge/commands.py")}
    found = []
    for path in sorted((root / "portal").rglob("*.py")):
        rel = path.relative_to(root)
        if rel in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(rel))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            found += [f"{rel}:{node.lineno} {name}" for name in names if name.split(".")[0] == "access_bridge"]
    assert found == []


def _portal_imports():
    """{module: {portal modules it imports}}, from every import in every portal module (top level and in functions)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    modules = {}
    for path in sorted((root / "portal").rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                # "from portal.desk import queries" is an edge to portal.desk.queries; a name that is no module, to its module.
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
            else:
                continue
            found |= {t for t in targets if t in modules}
        graph[name] = found - {name}
    return graph


def _cycles(graph):
    """Each strongly connected group of two or more modules (Tarjan), as a sorted tuple."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(tuple(sorted(group)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def test_no_import_cycle_between_portal_modules():
    """No portal module imports itself through others, counting imports inside functions too."""
    assert _cycles(_portal_imports()) == []


def test_readme_and_contributing_name_every_feature_package_and_bridge_module():
    """The layout sections list what the tree holds: each portal package, and each access_bridge module in CONTRIBUTING."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    packages = {p.parent.name for p in (root / "portal").glob("*/__init__.py")} - {"translations"}
    readme = (root / "README.md").read_text()
    contributing = (root / "CONTRIBUTING.md").read_text()
    layout = contributing.split("## Layout", 1)[1].split("## ", 1)[0]
    assert {p for p in packages if f"`{p}`" not in readme} == set()
    assert {p for p in packages if not re.search(rf"\b{p}\b", layout)} == set()
    modules = {p.stem for p in (root / "access_bridge").glob("*.py")} - {"__init__"}
    assert {m for m in modules if not re.search(rf"\b{m}\b", layout)} == set()


def _view_lines(pages_only=False):
    """(path under the repository, line number, line) of every module of views (pages and API endpoints, or pages only)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    views = r"^@\w+\.(route|get|post|put|patch|delete)\(" + ("" if pages_only else r"|^@api_route\(")
    for path in sorted((root / "portal").rglob("*.py")):
        text = path.read_text()
        if re.search(views, text, re.M):
            for n, line in enumerate(text.splitlines(), 1):
                yield path.relative_to(root), n, line


def test_no_view_ends_the_transaction_itself():
    """Pages and endpoints never call rollback(): refusals end in portal.core.transaction, as the request hook does.

    The gate's verify call is the exception, marked "not a refusal" at each place: it ends a transaction a failed
    statement or a dropped connection left behind, so the decision can still read.
    """
    found, before = [], ""
    for path, n, line in _view_lines():
        marked = str(path) == "portal/gate/api.py" and "not a refusal" in (before + line).lower()
        if ".rollback(" in line and not marked:
            found.append(f"{path}:{n}")
        before = line
    assert found == []


def test_no_view_catches_a_refusal_itself():
    """Pages and endpoints let a refusal reach the error handlers, or call the operation through errors.attempt.

    A module of views that catches Refused (or one of its kinds) would decide by itself what is kept and shown.
    """
    import re

    caught = re.compile(r"^\s*except\b.*\b(Refused|ValidationFailed|PhotoRefused)\b")
    assert [f"{path}:{n}" for path, n, line in _view_lines() if caught.search(line)] == []


def test_no_page_catches_an_api_error():
    """Pages never catch an ApiError (or a class made from one): operations refuse with Refused, which pages attempt.

    The login page is the one exception, marked "not a refusal": a failed login keeps what it wrote (its failure
    counter and lock), where a refusal is abandoned. API endpoints may still turn one HTTP error into another.
    """
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    bases = re.compile(r"^class (\w+)\(([^)]*)\)", re.M)
    declared = [
        (name, set(re.findall(r"\w+", b))) for p in root.glob("portal/**/*.py") for name, b in bases.findall(p.read_text())
    ]
    http_errors = {"ApiError"}
    while new := {name for name, of in declared if of & http_errors} - http_errors:
        http_errors |= new
    caught = re.compile(r"^\s*except\b.*\b(" + "|".join(sorted(http_errors)) + r")\b")
    lines = _view_lines(pages_only=True)
    found = [f"{path}:{n}" for path, n, line in lines if caught.search(line) and "not a refusal" not in line.lower()]
    assert found == []
