"""Safe-by-default HTML building: every value is escaped unless it is already `Html` (trusted markup).

User strings (clip and pair ids, run names, params, tags, error messages) reach the page only
through `esc` or `table`, so a clip named `<img src=x onerror=alert(1)>` renders as text.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence

from qa_harness.thumbs import data_uri

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}
h3{font-size:15px;margin-bottom:6px}table{border-collapse:collapse;font-size:12px;margin:6px 0 14px}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:right;vertical-align:top}
th{background:#f4f4f4}td.t,th.t{text-align:left}.pass{color:#17692b;font-weight:600}
.fail{color:#b3141a;font-weight:700}.skip{color:#777}.verdict{font-size:20px;padding:10px 14px;
border-radius:6px;display:inline-block}.verdict.pass{background:#e3f4e6}.verdict.fail{background:#fbe4e4}
.strip{display:flex;gap:14px;flex-wrap:wrap;margin:4px 0 12px}.frame figure{margin:0}
.frame figcaption{font-size:11px;color:#555}.frame img{width:96px;height:96px;image-rendering:auto;
margin-right:2px}.frame img.crop{width:48px;height:48px}.crops{margin-top:3px}
.note{color:#666;font-size:12px}img.plot{max-width:100%}code{background:#f4f4f4;padding:0 3px}
"""


class Html(str):
    """Markup that is already safe (built by this module from escaped parts)."""


def esc(value: object) -> Html:
    """Escaped text; floats are shown with 4 significant digits, NaN/None as an empty cell."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Html("")
    if isinstance(value, float):
        return Html(f"{value:.4g}")
    return Html(html.escape(str(value), quote=True))


def tag(name: str, content: object = "", **attrs: object) -> Html:
    """`<name attrs>content</name>`; content is escaped unless `Html`, attribute values always are."""
    attributes = "".join(f' {k.rstrip("_").replace("_", "-")}="{esc(v)}"' for k, v in attrs.items() if v is not None)
    body = content if isinstance(content, Html) else esc(content)
    return Html(f"<{name}{attributes}>{body}</{name}>")


def join(parts: Iterable[Html]) -> Html:
    return Html("".join(parts))


def png(data: bytes, alt: object) -> Html:
    """PNG bytes (a plot this package drew) as an embedded image."""
    return img(data_uri(data, "image/png"), alt)


def img(uri: str, alt: object, *, cls: str = "plot") -> Html:
    """An embedded image; `uri` must be a data URI built by this package (never a user string)."""
    if not uri.startswith("data:image/"):
        raise ValueError("img: only embedded data URIs are allowed in a self-contained report")
    return Html(f'<img class="{esc(cls)}" alt="{esc(alt)}" src="{uri}">')


def status(value: str) -> Html:
    return tag("span", value.upper(), class_=value)


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], *, text_columns: int = 1) -> Html:
    """A table; the first `text_columns` columns are left-aligned text, the rest numbers."""

    def cell(kind: str, i: int, value: object) -> Html:
        return tag(kind, value if isinstance(value, Html) else esc(value), class_="t" if i < text_columns else None)

    head = tag("tr", join(cell("th", i, h) for i, h in enumerate(headers)))
    body = join(tag("tr", join(cell("td", i, v) for i, v in enumerate(row))) for row in rows)
    return tag("table", join([head, body]))


def page(title: str, body: Html) -> str:
    """The whole document: inline CSS, no scripts, no external resources."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
        "style-src 'unsafe-inline'\">"
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>\n"
    )
