"""Both backends offer exactly the interface of app.db.backend.Backend, with its parameters: the
pool, Database and the deploy step call nothing else, so a method missing on one dialect (or
named differently) would show only on that dialect's first deploy."""

from __future__ import annotations

import inspect

import pytest

from app.db.backend import Backend
from app.db.hana import HanaBackend
from app.db.sqlite import SqliteBackend

METHODS = sorted(
    name for name, member in vars(Backend).items() if callable(member) and not name.startswith("_")
)


@pytest.mark.parametrize("backend_class", [SqliteBackend, HanaBackend], ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", METHODS)
def test_backend_offers_the_interface_method(backend_class, name):
    method = getattr(backend_class, name, None)
    assert callable(method), f"{backend_class.__name__} lacks {name}"
    wanted = list(inspect.signature(getattr(Backend, name)).parameters)
    offered = list(inspect.signature(method).parameters)
    assert offered[: len(wanted)] == wanted, (name, offered)


def test_deploy_branches_on_no_dialect_and_holds_no_sql():
    import ast

    from app.db import deploy

    tree = ast.parse(inspect.getsource(deploy))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    strings = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        if id(node) not in docstrings
    ]
    assert not [s for s in strings if any(w in s.upper() for w in ("DROP ", "CREATE ", "SELECT "))]
    assert not [s for s in strings if s in ("sqlite", "hana")]
    compares = [ast.unparse(n) for n in ast.walk(tree) if isinstance(n, ast.Compare)]
    assert not [c for c in compares if "dialect" in c]
