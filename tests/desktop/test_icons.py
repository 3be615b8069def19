"""The icon set (issue 17): every icon the app asks for is a valid SVG in resources/icons,
drawn on a small grid in one colour, and it renders; no emoji or glyph stands in for one."""

from __future__ import annotations

import re
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import get_args

import pytest

import resources
from core.overview import StageState
from core.system.doctor import Status
from desktop.main_window import SECTIONS
from desktop.qt import QSize
from desktop.widgets.icons import FOLDER, UnknownIcon, icon, icon_html, icon_path

ROOT = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"
# icon("copy"), icon_html('warning'), a notice's icon="warning"
CALLED = re.compile(r"""\bicon(?:_html)?\(\s*["']([\w-]+)["']|\bicon=["']([\w-]+)["']""")


def names_in_code() -> set[str]:
    """Every icon name the app uses: by a literal in desktop/, or by a state or section."""
    names = set()
    for source in (ROOT / "desktop").rglob("*.py"):
        for match in CALLED.finditer(source.read_text(encoding="utf-8")):
            names.add(match.group(1) or match.group(2))
    assert {"copy", "good", "poor", "warning", "done"} <= names  # the scan finds them
    names |= set(get_args(StageState)) | set(get_args(Status))
    return names | {section.lower() for section in SECTIONS}


@pytest.mark.parametrize("name", sorted(names_in_code()))
def test_every_icon_the_app_uses_is_a_small_one_colour_svg_that_renders(qapp, name: str) -> None:  # noqa: ANN001
    path = icon_path(name)
    assert path.parent == resources.path("icons")
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    left, top, width, height = (float(v) for v in root.attrib["viewBox"].split())
    assert (left, top) == (0, 0) and width == height and 16 <= width <= 24
    colours = {element.attrib[key].lower() for element in root.iter()
               for key in ("fill", "stroke") if element.attrib.get(key, "none") != "none"}
    assert len(colours) == 1, f"{name}: {colours}"
    assert not icon(name).isNull()
    pixmap = icon(name).pixmap(QSize(16, 16))
    assert not pixmap.isNull() and pixmap.width() == 16
    image = pixmap.toImage()
    drawn = sum(image.pixelColor(x, y).alpha() > 128 for x in range(16) for y in range(16))
    assert drawn >= 4, f"{name} draws almost nothing at 16 pixels"


def test_an_unknown_icon_is_a_clear_error() -> None:
    with pytest.raises(UnknownIcon, match="no icon named 'nope'.*there are: .*warning"):
        icon_path("nope")
    with pytest.raises(UnknownIcon):
        icon_path("../icons/done")


def test_rich_text_shows_the_file() -> None:
    html = icon_html("warning", size=20)
    assert html.startswith("<img ") and 'width="20" height="20"' in html
    assert f'src="file://{FOLDER / "warning.svg"}"' in html


def test_no_glyph_stands_in_for_an_icon() -> None:
    glyphs = "⚠✓✔✖✗✘❌⛔"
    for source in (ROOT / "desktop").rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        assert not [g for g in glyphs if g in text], source


def test_an_installed_wheel_has_the_icons() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    data = config["tool"]["setuptools"]["package-data"]
    assert "**/*" in data["resources"] or "*.svg" in data.get("*", [])
