"""Reports in a Jupyter notebook: ``_repr_html_`` / ``_repr_markdown_`` bodies.

The HTML report (:func:`nantrace.report.html.render_html`) is a whole page: its stylesheet
styles ``body``, ``header``, ``h1``, ``table``, ``*`` and ``:root``, and its script looks up
elements by document-wide ids. Pasted into a notebook it would restyle the notebook, and two
reports in one notebook would fight over the ids. So the notebook gets the same page inside an
``<iframe srcdoc=...>``: the frame is its own document (its CSS and ids stay inside), and
``sandbox="allow-scripts"`` (without ``allow-same-origin``) lets the report's own script run
(graph clicks, fit-to-width) but never reach the notebook. Rewriting every selector under a
root class was the other choice; it would still leave the ids and the ``:root`` variables
shared, and every later change to the page's CSS would have to remember the scoping.

Scan and diff results have no HTML page: they show their text rendering in a ``<pre>`` with
inline styles only (no ``<style>`` element, so nothing outside them changes).
"""

from __future__ import annotations

import html
from typing import Any

#: Height of the report's frame in the notebook; the page scrolls inside it.
FRAME_HEIGHT_PX = 720


def report_html(report: Any, height: int = FRAME_HEIGHT_PX) -> str:
    """The self-contained HTML report in a sandboxed iframe (see the module docstring)."""
    from nantrace.report.html import render_html

    page = render_html(report)
    title = html.escape(f"nantrace report: {report.headline()}", quote=True)
    return (
        f'<iframe class="nantrace-report" title="{title}" sandbox="allow-scripts" '
        f'style="width:100%;height:{int(height)}px;border:1px solid #d1d5db;border-radius:6px" '
        f'srcdoc="{html.escape(page, quote=True)}"></iframe>'
    )


def report_markdown(report: Any) -> str:
    """Markdown for front-ends without HTML: the headline, then the plain-text report."""
    from nantrace.report.text import render_plain

    return f"**nantrace** — {_md_escape(report.headline())}\n\n{_fenced(render_plain(report))}"


def text_html(headline: str, text: str) -> str:
    """A scan or diff result: its headline and text rendering, inline styles only."""
    return (
        '<div class="nantrace-result" style="font-family:system-ui,sans-serif">'
        f'<div style="font-weight:600;margin:0 0 4px">nantrace: {html.escape(headline)}</div>'
        '<pre style="font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;'
        "white-space:pre;overflow-x:auto;margin:0;padding:8px 10px;background:#f6f7f9;"
        f'border-radius:6px">{html.escape(text)}</pre></div>'
    )


def text_markdown(headline: str, text: str) -> str:
    return f"**nantrace** — {_md_escape(headline)}\n\n{_fenced(text)}"


def _fenced(text: str) -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}text\n{text.rstrip()}\n{fence}\n"


def _md_escape(text: str) -> str:
    for char in "\\`*_[]<>#|":
        text = text.replace(char, "\\" + char)
    return text
