"""The report's chart as a PNG: cases per day by segment, and the medians.

Matplotlib's object API on the Agg canvas: no pyplot, no global state, no
display, safe to call from a worker thread while the bot keeps running. Matplotlib
is imported when a chart is first drawn: a bot that never draws one never pays its
start-up time and memory.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from aiogram.utils.i18n import gettext as _
from babel.dates import format_skeleton

from bot.reports.render import segment_label
from bot.reports.service import Report
from storage.repositories.reports import ALL, Measure

if TYPE_CHECKING:  # not an import cycle: matplotlib loads only when a chart is drawn
    from matplotlib.figure import Figure

MAX_SERIES = 6
"""Segments drawn one by one; the rest are summed up as "others"."""


def render_chart(report: Report) -> bytes:
    """A PNG of about 1000×700 pixels, labelled in the current gettext locale."""
    buffer = io.BytesIO()
    chart_figure(report).savefig(buffer, format="png")
    return buffer.getvalue()


def chart_figure(report: Report) -> Figure:
    """The chart, drawn: days in the report's language, whole cases on the count axis."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, num2date
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    figure = Figure(figsize=(10, 7), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    daily, medians = figure.subplots(2, 1, height_ratios=(3, 2))

    keys = list(report.per_day)
    shown = keys[:MAX_SERIES]
    series = [(segment_label(report, key), report.per_day[key]) for key in shown]
    if len(keys) > MAX_SERIES:
        others = [
            sum(report.per_day[k][i] for k in keys[MAX_SERIES:]) for i in range(len(report.days))
        ]
        series.append((_("others"), others))
    bottom = [0] * len(report.days)
    for label, counts in series:
        daily.bar(report.days, counts, bottom=bottom, label=label, width=0.9)
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    daily.set_title(_("Cases opened per day"))
    daily.set_ylabel(_("cases"))
    # Babel names the months (matplotlib's own labels are English whatever the locale).
    skeleton = "MMMd" if report.period.first.year == report.period.last.year else "yMMMd"

    def day(value: float, _position: int | None) -> str:
        when = num2date(value)  # type: ignore[no-untyped-call]
        return format_skeleton(skeleton, when, locale=report.lang)

    locator = AutoDateLocator(minticks=3, maxticks=8)  # type: ignore[no-untyped-call]
    daily.xaxis.set_major_locator(locator)
    daily.xaxis.set_major_formatter(FuncFormatter(day))
    daily.yaxis.set_major_locator(MaxNLocator(integer=True))
    daily.grid(axis="y", alpha=0.3)
    if series:
        daily.legend(loc="upper left", fontsize="small")
    if report.empty:
        daily.text(0.5, 0.5, _("There were no cases in this period."), ha="center",
                   transform=daily.transAxes)  # fmt: skip

    columns = [*shown, ALL]
    labels = [segment_label(report, key) for key in columns]
    figures = [report.all if key == ALL else report.segments[key] for key in columns]
    positions = range(len(columns))
    height = 0.38
    for offset, measure, name in (
        (-height / 2, Measure.response, _("first response")),
        (height / 2, Measure.resolution, _("resolution")),
    ):
        hours = [(f.medians.get(measure) or 0) / 3600 for f in figures]
        bars = medians.barh([p + offset for p in positions], hours, height=height, label=name)
        medians.bar_label(bars, labels=[f"{h:.1f}" for h in hours], padding=3, fontsize="small")
    medians.set_yticks(list(positions), labels)
    medians.invert_yaxis()
    medians.set_title(_("Median time, calendar hours"))
    medians.set_xlabel(_("hours"))
    # Above the bars, beside the title: inside the plot it would cover a bar and its figure.
    medians.legend(
        loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, fontsize="small", frameon=False
    )
    medians.grid(axis="x", alpha=0.3)
    return figure
