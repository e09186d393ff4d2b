"""The report as people read it: Markdown, Telegram's HTML, an HTML page,
and as machines read it: CSV and JSON (raw seconds and counts).

Texts are translated with the current gettext locale; numbers, shares and
durations go through Babel in the report's language.
"""

from __future__ import annotations

import csv
import html
import io
import json
from typing import Any

from aiogram.utils.i18n import gettext as _
from babel import Locale

from bot.domain import formatting
from bot.domain.cases import TYPE_LABELS
from bot.i18n import N_, ngettext
from bot.intents import Intent
from bot.reports.service import Figures, Report
from storage.repositories.reports import ALL, Measure, Segment, SegmentKey, TagRow

SEGMENT_NAMES = {
    Segment.locale: N_("language"),
    Segment.type: N_("case type"),
    Segment.group: N_("agents' group"),
    Segment.agent: N_("agent (who resolved it, else who holds it)"),
}
MEASURE_ROWS = [
    (Measure.response, N_("First response, average"), N_("First response, median")),
    (Measure.resolution, N_("Resolution, average"), N_("Resolution, median")),
]
FORMATS = ("md", "csv", "json", "html")
INTENT_NAMES = {
    Intent.cancel: N_("Cancel an order"),
    Intent.refund: N_("Refund"),
    Intent.defect: N_("Defective or damaged item"),
    Intent.payment: N_("Payment problem"),
    Intent.seller: N_("Question for the seller"),
    Intent.where_order: N_("Where is my order"),
    Intent.person: N_("Talk to a person"),
    Intent.my_orders: N_("My orders"),
    Intent.my_requests: N_("My requests"),
    Intent.language: N_("Language"),
    Intent.greeting: N_("Greeting"),
    Intent.thanks: N_("Thanks"),
}
INTENT_VALUES = {intent.value for intent in Intent}


def segment_label(report: Report, key: SegmentKey) -> str:
    if key == ALL:
        return _("all")
    if key is None:
        return _("unassigned") if report.by is Segment.agent else _("none")
    if report.by is Segment.locale:
        try:
            return Locale.parse(str(key)).get_display_name(report.lang) or str(key)
        except ValueError:
            return str(key)
    if report.by is Segment.type and str(key) in TYPE_LABELS:
        return _(TYPE_LABELS[str(key)])
    return str(key)


def _columns(report: Report) -> list[tuple[str, Figures]]:
    return [
        *((segment_label(report, key), f) for key, f in report.segments.items()),
        (segment_label(report, ALL), report.all),
    ]


def _duration(value: int | None, lang: str) -> str:
    return "—" if value is None else formatting.duration(value, lang)


WORKING = {Measure.response: Measure.response_work, Measure.resolution: Measure.resolution_work}


def _rows(report: Report) -> list[tuple[str, list[str]]]:
    """(label, one cell per column) for every figure of the table."""
    lang = report.lang
    columns = [f for _label, f in _columns(report)]
    rows = [(_("Cases opened"), [formatting.number(f.opened, lang) for f in columns])]
    for kind, work in ((_("calendar time"), False), (_("working hours"), True)):
        for measure, average, median in MEASURE_ROWS:
            chosen = WORKING[measure] if work else measure
            label = _("{figure} ({kind})")
            rows.append(
                (
                    label.format(figure=_(average), kind=kind),
                    [_duration(f.average(chosen), lang) for f in columns],
                )
            )
            rows.append(
                (
                    label.format(figure=_(median), kind=kind),
                    [_duration(f.medians.get(chosen), lang) for f in columns],
                )
            )
    shares = [f.in_time_share for f in columns]
    rows.append(
        (
            _("Answered within the deadline"),
            ["—" if s is None else formatting.percent(s, lang) for s in shares],
        )
    )
    rows.append(
        (
            _("Still open at the end of the period"),
            [formatting.number(f.open_at_end, lang) for f in columns],
        )
    )
    rows.append(
        (
            _("Satisfaction, average of 1–5"),
            ["—" if f.csat is None else formatting.decimal(f.csat, lang) for f in columns],
        )
    )
    rows += [
        (
            _("Rated {stars} of 5").format(stars=stars),
            [formatting.number(f.sums.ratings[stars - 1], lang) for f in columns],
        )
        for stars in range(5, 0, -1)
    ]
    return rows


def title(report: Report) -> str:
    return _("Complaint-handling report, {first} – {last}").format(
        first=formatting.calendar_day(report.period.first, report.lang),
        last=formatting.calendar_day(report.period.last, report.lang),
    )


def notes(report: Report) -> list[str]:
    """The lines that say how to read the figures."""
    return [
        _("Cases opened in the period, by {segment}. Days in {zone}.").format(
            segment=_(SEGMENT_NAMES[report.by]), zone=str(report.tz)
        ),
        _(
            "Times are shown twice: in calendar time, and in working hours only "
            "(the team's working calendar). With an even number of cases, the median is the "
            "lower of the two middle values."
        ),
    ]


def tags_title() -> str:
    return _("Most frequent tags")


def tags_header() -> list[str]:
    return [_("Tag"), _("Cases"), _("What it is about")]


def _tag_rows(report: Report) -> list[list[str]]:
    return [
        [tag.name, formatting.number(tag.cases, report.lang), _describe(tag)] for tag in report.tags
    ]


def _describe(tag: TagRow) -> str:
    """The tag's own description, else, for a case type (every case carries its type
    as a tag), the type's name."""
    if tag.description or tag.name not in TYPE_LABELS:
        return tag.description
    return _(TYPE_LABELS[tag.name])


def no_cases() -> str:
    return _("There were no cases in this period.")


def deflection_title() -> str:
    return _("Requests resolved without an agent")


def deflection_note(report: Report) -> str:
    return ngettext(
        "Requests buyers typed in their own words and confirmed with a tap (or that were "
        "answered from the order data), counted once {hours} hour has passed: resolved "
        "without an agent when the buyer opened no case in that time.",
        "Requests buyers typed in their own words and confirmed with a tap (or that were "
        "answered from the order data), counted once {hours} hours have passed: resolved "
        "without an agent when the buyer opened no case in that time.",
        int(report.dialog_hours),
    ).format(hours=formatting.number(report.dialog_hours, report.lang))


def deflection_header() -> list[str]:
    return [_("Request"), _("Confirmed"), _("Without an agent"), _("Share")]


def _deflection_rows(report: Report) -> list[list[str]]:
    lang = report.lang
    rows = []
    for row in report.deflection:
        label = INTENT_NAMES.get(Intent(row.intent)) if row.intent in INTENT_VALUES else None
        name = _(label) if label else row.intent
        rows.append(
            [
                name,
                formatting.number(row.settled, lang),
                formatting.number(row.without_case, lang),
                formatting.percent(row.without_case / row.settled, lang) if row.settled else "—",
            ]
        )
    return rows


def _deflection_md(report: Report) -> list[str]:
    if not report.deflection:
        return []
    lines = ["", f"### {deflection_title()}", "", deflection_note(report), ""]
    lines += ["| " + " | ".join(deflection_header()) + " |", "|---|---|---|---|"]
    return lines + ["| " + " | ".join(cells) + " |" for cells in _deflection_rows(report)]


def render_md(report: Report) -> str:
    lines = [f"## {title(report)}", "", *notes(report), ""]
    if report.empty:
        return "\n".join([*lines, no_cases(), *_deflection_md(report), ""])
    headers = [_("Figure"), *(label for label, _f in _columns(report))]
    lines += ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join([label, *cells]) + " |" for label, cells in _rows(report)]
    lines += ["", "### " + tags_title(), ""]
    lines += ["| " + " | ".join(tags_header()) + " |", "|---|---|---|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in _tag_rows(report)]
    return "\n".join([*lines, *_deflection_md(report), ""])


def _figure(label: str, values: list[tuple[str, str]]) -> str:
    """A figure as Telegram shows it: its name in bold, then each column's value."""
    line = " · ".join(f"{html.escape(column)} {html.escape(value)}" for column, value in values)
    return f"<b>{html.escape(label)}</b>\n{line}"


def render_telegram(report: Report) -> str:
    """Telegram HTML for /stats: one figure after another, each column's value beside
    its name (a table does not fit a phone's width)."""
    parts = [f"<b>{html.escape(title(report))}</b>\n" + html.escape("\n".join(notes(report)))]
    if report.empty:
        parts.append(html.escape(no_cases()))
    else:
        columns = [label for label, _f in _columns(report)]
        parts.append(
            "\n".join(
                _figure(label, list(zip(columns, cells, strict=True)))
                for label, cells in _rows(report)
            )
        )
        if report.tags:
            tags = [
                html.escape(f"{name}: {count}" + (f" — {about}" if about else ""))
                for name, count, about in _tag_rows(report)
            ]
            parts.append(f"<b>{html.escape(tags_title())}</b>\n" + "\n".join(tags))
    if report.deflection:
        header = deflection_header()[1:]
        rows = [
            _figure(name, list(zip(header, cells, strict=True)))
            for name, *cells in _deflection_rows(report)
        ]
        parts.append(
            f"<b>{html.escape(deflection_title())}</b>\n"
            + html.escape(deflection_note(report))
            + "\n\n"
            + "\n".join(rows)
        )
    return "\n\n".join(parts)


def render_html(report: Report, chart: str | None = None) -> str:
    def table(header: list[str], rows: list[list[str]]) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    parts = [f"<h2>{html.escape(title(report))}</h2>"]
    parts += [f"<p>{html.escape(line)}</p>" for line in notes(report)]
    if report.empty:
        parts.append(f"<p>{html.escape(no_cases())}</p>")
    else:
        header = [_("Figure"), *(label for label, _f in _columns(report))]
        parts.append(table(header, [[label, *cells] for label, cells in _rows(report)]))
        if chart:
            alt = _("Chart")
            parts.append(f'<p><img src="{html.escape(chart)}" alt="{html.escape(alt)}"></p>')
        parts.append(f"<h3>{html.escape(tags_title())}</h3>")
        parts.append(table(tags_header(), _tag_rows(report)))
    if report.deflection:
        parts.append(f"<h3>{html.escape(deflection_title())}</h3>")
        parts.append(f"<p>{html.escape(deflection_note(report))}</p>")
        parts.append(table(deflection_header(), _deflection_rows(report)))
    style = "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:2px 8px}"
    return (
        f'<!doctype html>\n<html lang="{report.lang}"><head><meta charset="utf-8">'
        f"<title>{html.escape(title(report))}</title><style>{style}</style></head>"
        f"<body>{''.join(parts)}</body></html>\n"
    )


def _raw(figures: Figures) -> dict[str, Any]:
    """Machine-readable figures: counts, and durations in whole seconds."""
    raw: dict[str, Any] = {"opened": figures.opened}
    for measure in Measure:
        raw[f"{measure.value}_avg"] = figures.average(measure)
        raw[f"{measure.value}_median"] = figures.medians.get(measure)
    raw["answered_in_time"] = figures.sums.in_time
    raw["answered_late"] = figures.sums.late
    raw["unanswered_past_deadline"] = figures.overdue
    raw["in_time_share"] = (
        None if figures.in_time_share is None else round(figures.in_time_share, 4)
    )
    raw["open_at_end"] = figures.open_at_end
    raw["csat_avg"] = figures.csat
    raw.update({f"rated_{stars}": figures.sums.ratings[stars - 1] for stars in range(1, 6)})
    return raw


def _csv_segment(report: Report, key: SegmentKey) -> str:
    """The segment's key; for the cases without one, a word saying so (not an empty cell)."""
    if key == ALL:
        return "all"
    if key is None:
        return "unassigned" if report.by is Segment.agent else "none"
    return str(key)


def render_csv(report: Report) -> str:
    """One row per segment and one for all, raw numbers, ready for a spreadsheet."""
    buffer = io.StringIO()
    columns = [(key, f) for key, f in report.segments.items()] + [(ALL, report.all)]
    fields = ["segment", *_raw(report.all)]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for key, figures in columns:
        writer.writerow({"segment": _csv_segment(report, key), **_raw(figures)})
    return buffer.getvalue()


def render_json(report: Report) -> str:
    period = report.period
    document = {
        "period": {
            "from": period.first.isoformat(),
            "to": period.last.isoformat(),
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "timezone": str(report.tz),
        },
        "segment": report.by.value,
        "times": ["calendar", "working"],
        "segments": [{"segment": key, **_raw(f)} for key, f in report.segments.items()],
        "all": _raw(report.all),
        "tags": [
            {"tag": t.name, "cases": t.cases, "description": t.description} for t in report.tags
        ],
        "resolved_without_agent": [
            {"intent": row.intent, "confirmed": row.settled, "without_agent": row.without_case}
            for row in report.deflection
        ],
        "per_day": {
            "days": [d.isoformat() for d in report.days],
            "cases": {str(key): counts for key, counts in report.per_day.items()},
        },
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def render(report: Report, fmt: str, chart: str | None = None) -> str:
    """The report in one of FORMATS."""
    if fmt == "csv":
        return render_csv(report)
    if fmt == "json":
        return render_json(report)
    if fmt == "html":
        return render_html(report, chart)
    return render_md(report)
