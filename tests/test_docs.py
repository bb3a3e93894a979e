"""Docs stay true: every setting is in the README's settings table."""

from __future__ import annotations

from pathlib import Path

from app.config import SETTINGS

README = Path("README.md").read_text(encoding="utf-8")


def test_readme_opens_with_the_two_commands():
    head = README[:1200]
    assert "make run" in head and "make test" in head


def test_every_setting_is_documented_in_the_readme():
    missing = [
        s.name for s in SETTINGS if f"`{s.name}`" not in README or f"`{s.env}`" not in README
    ]
    assert not missing, f"settings missing from README.md: {missing}"
