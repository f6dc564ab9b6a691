"""Reports rendered from a saved ``RunResult``: ``report.html``, ``summary.md`` and ``junit.xml``.

Never imports Locust or gevent: a report can be rendered in any process, long after the run.
"""

from reports.render import render_all, render_html, render_junit, render_markdown

__all__ = ["render_all", "render_html", "render_junit", "render_markdown"]
