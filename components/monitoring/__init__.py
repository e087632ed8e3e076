"""Offline monitoring: the drift report over captured requests (``inferstack drift-report``)."""

from inferstack.components.monitoring.html_report import render_html, summary_svg
from inferstack.components.monitoring.report import build_report, load_reference
from inferstack.components.monitoring.results import Report, Thresholds
from inferstack.components.monitoring.sources import CaptureError, open_source

__all__ = [
    "CaptureError",
    "Report",
    "Thresholds",
    "build_report",
    "load_reference",
    "open_source",
    "render_html",
    "summary_svg",
]
