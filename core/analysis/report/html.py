"""The report page: one self-contained HTML file (inline CSS, images as data URIs).

Why no external reference: the page must open offline, from an e-mail attachment or an
archived plan folder, years later, exactly as it was written. The one script, inline, only
sorts the job table when a heading is clicked; everything reads the same without it.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1400px; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
p.meta { color: #555; margin-top: 0; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ddd; padding: 2px 8px; text-align: right; white-space: nowrap; }
th { background: #f3f3f3; position: sticky; top: 0; }
td.text, th.text { text-align: left; }
tr.unplaced td { background: #fdecea; }
figure { margin: 0.8em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; }
div.scroll { overflow: auto; max-height: 85vh; border: 1px solid #eee; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th[aria-sort="ascending"]::after { content: " \\25B2"; }
table.sortable th[aria-sort="descending"]::after { content: " \\25BC"; }
.better { color: #1b5e20; } .worse { color: #b71c1c; }
"""


@dataclass(frozen=True)
class Image:
    """A PNG for the page: its file name in the plan folder, caption and bytes."""

    name: str
    caption: str
    png: bytes

    def tag(self) -> str:
        data = base64.b64encode(self.png).decode("ascii")
        alt = html.escape(self.caption)
        return (f'<figure><img src="data:image/png;base64,{data}" alt="{alt}">'
                f"<figcaption>{html.escape(self.caption)} ({html.escape(self.name)})"
                "</figcaption></figure>")


SORT_SCRIPT = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (head, column) {
    head.addEventListener('click', function () {
      var up = head.getAttribute('aria-sort') !== 'ascending';
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute('aria-sort'); });
      head.setAttribute('aria-sort', up ? 'ascending' : 'descending');
      var key = function (row) {
        var cell = row.cells[column];
        if (!cell) { return ''; }
        var v = cell.getAttribute('data-v');
        return v === null ? cell.textContent : parseFloat(v);
      };
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (typeof x !== typeof y) { return typeof x === 'number' ? -1 : 1; }
        if (x === '' || y === '') { return x === y ? 0 : (x === '' ? 1 : -1); }
        return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1);
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""
"""Sorts a ``sortable`` table by the clicked column: numbers by value (``data-v``, the full
precision), text alphabetically, blanks last; stable, so ties keep the previous order."""


def _cell(value: object, text: bool = False) -> str:
    """One cell; a number also carries its full value in ``data-v`` for sorting."""
    number = ""
    if isinstance(value, float):
        shown = f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
        number = f' data-v="{float(value)!r}"'  # numpy 2 reprs np.float64(x)
    elif isinstance(value, int) and not isinstance(value, bool):
        shown = str(value)
        number = f' data-v="{value}"'
    else:
        shown = "" if value is None else str(value)
    css = ' class="text"' if text else ""
    return f"<td{css}{number}>{html.escape(shown)}</td>"


def table(columns: Sequence[str], rows: Sequence[Sequence[object]], text_columns: int = 1,
          row_classes: Sequence[str] | None = None, sortable: bool = False) -> str:
    """An HTML table; the first ``text_columns`` columns are left-aligned text.

    ``sortable``: in a scrolling box (so a wide, long table stays on the page, its headings
    in view) and sorted by a click on a heading (:data:`SORT_SCRIPT`).
    """
    head = "".join(f'<th class="{"text" if i < text_columns else ""}">{html.escape(c)}</th>'
                   for i, c in enumerate(columns))
    body = []
    for n, row in enumerate(rows):
        css = f' class="{row_classes[n]}"' if row_classes and row_classes[n] else ""
        cells = "".join(_cell(v, i < text_columns) for i, v in enumerate(row))
        body.append(f"<tr{css}>{cells}</tr>")
    kind = ' class="sortable"' if sortable else ""
    markup = (f"<table{kind}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody>"
              "</table>")
    return f'<div class="scroll">{markup}</div>' if sortable else markup


def totals_table(totals: Mapping[str, float], baselines: Mapping[str, Mapping[str, float]],
                 currency: str | None = None) -> str:
    """Totals beside each baseline, with the plan's change against it (cost in ``currency``)."""
    keys = ("energy_kwh", "grid_kwh", "renewable_kwh", "carbon_kg", "cost")
    columns = ["total", "plan"]
    for name in baselines:
        columns += [name, f"plan vs {name}"]
    rows = []
    for key in keys:
        label = f"cost [{currency}]" if key == "cost" and currency else key
        row: list[object] = [label, float(totals[key])]
        for values in baselines.values():
            base = values.get(key)
            row.append(None if base is None else float(base))
            row.append(f"{(totals[key] / base - 1) * 100:+.1f} %" if base else "")
        rows.append(row)
    return table(columns, rows)


def page(title: str, meta: str, sections: Sequence[tuple[str, str]]) -> str:
    """The whole document; ``sections`` are ``(heading, inner HTML)`` pairs."""
    parts = [f"<h2>{html.escape(heading)}</h2>\n{inner}" for heading, inner in sections]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p class=\"meta\">{meta}</p>\n"
            + "\n".join(parts)
            + (f"\n<script>{SORT_SCRIPT}</script>" if "sortable" in "".join(parts) else "")
            + "\n</body></html>\n")
