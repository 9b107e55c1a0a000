"""Self-contained HTML reports: one run, or a comparison of two, in one offline file.

``render_run(doc, intervals, generator)`` and ``render_comparison(comparison, base_doc,
base_intervals, cand_doc, cand_intervals)`` take plain data (run.json's document and the
rows the store reads) and return the page as a string; they never touch files.
"""

from perflab.report.html.render import render_comparison, render_run

__all__ = ["render_comparison", "render_run"]
