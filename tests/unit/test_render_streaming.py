"""Long listings are written a line or an item at a time, and read exactly as before: the plain table is
rich's own output, the streamed JSON is json.dumps' own text."""

from __future__ import annotations

import io
import json
import string
from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.table import Table

from ecrtool.cli.render import PLAIN_WIDTH, Renderer, plain_table
from ecrtool.model.results import ImageInfo

cells = st.text(string.printable.strip() + " ", max_size=40)


def rich_table(title: str, headers: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    table = Table(title=title, title_justify="left", box=None, header_style="bold", pad_edge=False)
    for header in headers:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*row)
    Console(file=out, width=PLAIN_WIDTH, markup=False, emoji=False).print(table)
    return out.getvalue()


@st.composite
def tables(draw: st.DrawFn) -> tuple[str, list[str], list[list[str]]]:
    columns = draw(st.integers(1, 5))
    headers = draw(
        st.lists(st.text(string.ascii_uppercase + " ", min_size=1, max_size=12), min_size=columns, max_size=columns)
    )
    rows = draw(st.lists(st.lists(cells, min_size=columns, max_size=columns), max_size=8))
    return draw(st.text(string.ascii_letters + ": ()", min_size=1, max_size=30)), headers, rows


@settings(max_examples=200, deadline=None)
@given(tables())
def test_the_plain_table_is_what_rich_prints(table: tuple[str, list[str], list[list[str]]]) -> None:
    title, headers, rows = table
    lines = plain_table(title, headers, rows, PLAIN_WIDTH)
    if lines is None:  # only the cases left to rich: too wide, or a title wider than the table
        widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
        total = sum(widths) + 2 * (len(widths) - 1)
        assert total > PLAIN_WIDTH or len(title) > total
        return
    assert "".join(line + "\n" for line in lines) == rich_table(title, headers, rows)


def test_tables_rich_must_fold_are_left_to_rich() -> None:
    assert plain_table("t", ["A", "B"], [["x" * 150, "y" * 60]], PLAIN_WIDTH) is None
    assert plain_table("t", ["A"], [["café"]], PLAIN_WIDTH) is None


def image(n: int) -> ImageInfo:
    return ImageInfo(
        repository="trees",
        digest=f"sha256:{n:064x}",
        tags=[f"v{n}", "latest"] if n % 2 else [],
        size_bytes=n * 1000 or None,
        pushed_at=datetime(2026, 1, n % 28 + 1, tzinfo=timezone.utc),
        media_type='application/vnd.oci.image.manifest.v1+json "quoted"\nline',
    )


def test_a_streamed_json_listing_is_json_dumps_text() -> None:
    from ecrtool.cli.render import to_jsonable

    for count in (0, 1, 3):
        images = [image(n) for n in range(count)]
        out = io.StringIO()
        Renderer(output="json", out=out).images("trees", images)
        assert out.getvalue() == json.dumps(to_jsonable(images), indent=2) + "\n"
        assert len(json.loads(out.getvalue())) == count


def test_an_images_table_of_thousands_is_plain_and_aligned() -> None:
    out = io.StringIO()
    Renderer(out=out).images("trees", [image(n) for n in range(5000)])
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("trees: 5000 image(s)")
    assert lines[1].split() == ["TAGS", "DIGEST", "SIZE", "PUSHED", "AT"]
    assert len(lines) == 5002 and len({len(line) for line in lines}) == 1
