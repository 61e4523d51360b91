# This file is part of the EV operations suite.
"""The figures of an OEM report and its files, without the database.

The lead rows come as tuples in the order of ROW_FIELDS, once, in a stream:
`Summary.add` counts each row while the writers put it in the data sheet,
so that neither the rows nor the file is ever held whole in memory (the
XLSX is written with xlsxwriter's constant_memory mode, row by row).

A milestone counts in the period when it happened in it ([start, end)).
The SLA of a transition is its clock on ev_station's engine (sla_lead.py),
as the query reads it at the end of the period: its verdict (met, breached,
running, paused), the business seconds it counted when it stopped and the
moment its verdict was reached (met: the stop, breached: the breach). The
summary counts a met or breached clock in the period its verdict was
reached, and a running or paused one when it was open at the period's
end; the average is of the clocks counted that had stopped by then."""
import csv
import datetime as dt
import re
from collections import Counter

import xlsxwriter
from xlsxwriter.utility import (
    _preserve_whitespace, _utf16_len, _utf16_truncate, xl_col_to_name)
from xlsxwriter.worksheet import Worksheet

# The lead's SLA clocks (sla_lead.METRICS), in the order of the report
TRANSITIONS = ['lead_first_contact', 'lead_survey_scheduled',
    'lead_installation', 'lead_closure', 'lead_end_to_end']
VERDICTS = ['met', 'breached', 'running', 'paused']
# The columns of the rows the query gives, in this order: the lead's, then
# per transition its verdict, business seconds and when it was reached
ROW_FIELDS = ['number', 'oem_reference', 'status', 'received', 'contacted',
    'surveyed', 'installed', 'closed', 'cancelled', 'cancellation_reason',
    'charger_model', 'charger_quantity', 'site_type'] + [
    f'{name}{part}' for name in TRANSITIONS
    for part in ['', '_hours', '_settled']]
TIMESTAMPS = {'received', 'contacted', 'surveyed', 'installed', 'closed',
    'cancelled'}
SETTLED = {f'{name}_settled' for name in TRANSITIONS}
HOURS = {f'{name}_hours' for name in TRANSITIONS}
MILESTONES = ['received', 'contacted', 'surveyed', 'installed', 'closed']
# Beyond this many distinct cancellation reasons the rest count as one
MAX_REASONS = 200


INDEX = {name: index for index, name in enumerate(ROW_FIELDS)}
TIMESTAMP_INDEXES = [INDEX[name] for name in ROW_FIELDS
    if name in TIMESTAMPS | SETTLED]
REASON = INDEX['cancellation_reason']
# Excel's day 0, and a second: datetimes are written as Excel's serial days
# (what xlsxwriter's write_datetime does, at a third of its cost)
EXCEL_EPOCH = dt.datetime(1899, 12, 30)
SECOND = dt.timedelta(seconds=1)


def as_datetime(value):
    """A timestamp of the database as a naive datetime (SQLite gives the
    aggregates as text)"""
    if value is None or value == '':
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    elif not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    return value.replace(tzinfo=None)


def normalize(row):
    """The row as a list in the order of ROW_FIELDS, its timestamps as
    datetimes, the cancellation reason's first line"""
    record = list(row)
    for index in TIMESTAMP_INDEXES:
        value = record[index]
        if value is not None and (
                type(value) is not dt.datetime or value.tzinfo):
            record[index] = as_datetime(value)
    reason = record[REASON]
    if reason and ('\n' in reason or reason != reason.strip()):
        # The first line: a reason, not the whole story
        record[REASON] = (reason.strip().splitlines() or [''])[0]
    return record


class Summary:
    "The figures of the summary, counted row by row"

    def __init__(self, start, end, targets, other_reason="Other"):
        """`targets` in business hours per transition (None: no target);
        the period is [start, end]"""
        self.start = dt.datetime.combine(start, dt.time())
        self.end = dt.datetime.combine(end + dt.timedelta(days=1), dt.time())
        self.targets = targets
        self.other_reason = other_reason
        self.counts = Counter()
        self.reasons = Counter()
        self.transitions = {name: dict.fromkeys(
                VERDICTS + ['stopped', 'seconds'], 0)
            for name in TRANSITIONS}
        self.rows = 0
        self._milestones = [(name, INDEX[name]) for name in MILESTONES]
        self._transitions = [
            (self.transitions[name], INDEX[name], INDEX[f'{name}_hours'],
                INDEX[f'{name}_settled'])
            for name in TRANSITIONS]

    def in_period(self, value):
        return value is not None and self.start <= value < self.end

    def add(self, record):
        "Count a row (a list in the order of ROW_FIELDS)"
        start, end, counts = self.start, self.end, self.counts
        self.rows += 1
        for name, index in self._milestones:
            value = record[index]
            if value is not None and start <= value < end:
                counts[name] += 1
        cancelled = record[INDEX['cancelled']]
        if cancelled is not None and start <= cancelled < end:
            counts['cancelled'] += 1
            reason = record[REASON] or ''
            if reason in self.reasons or len(self.reasons) < MAX_REASONS:
                self.reasons[reason] += 1
            else:
                self.reasons[self.other_reason] += 1
        for figures, verdict_index, seconds_index, settled_index \
                in self._transitions:
            verdict = record[verdict_index]
            if verdict is None:
                continue
            if verdict in {'running', 'paused'}:
                figures[verdict] += 1
                continue
            settled = record[settled_index]
            if settled is None or not start <= settled < end:
                continue
            figures[verdict] += 1
            seconds = record[seconds_index]
            if seconds is not None:
                figures['stopped'] += 1
                figures['seconds'] += seconds

    def as_dict(self, open_issues=None):
        """The figures as the API gives them: counts, cancellation reasons,
        and per transition (an SLA clock) its target in business hours, the
        clocks met, breached, running and paused, the compliance (met of
        met and breached, 0..1) and the average business hours (None
        without clocks)"""
        transitions = {}
        for name, figures in self.transitions.items():
            decided = figures['met'] + figures['breached']
            stopped = figures['stopped']
            transitions[name] = {
                'target_hours': self.targets.get(name),
                **{v: figures[v] for v in VERDICTS},
                'compliance': (
                    round(figures['met'] / decided, 4) if decided else None),
                'average_business_hours': (
                    round(figures['seconds'] / stopped / 3600, 2)
                    if stopped else None),
                }
        result = {name: self.counts[name]
            for name in MILESTONES + ['cancelled']}
        result['cancellation_reasons'] = dict(
            sorted(self.reasons.items(), key=lambda i: (-i[1], i[0])))
        result['transitions'] = transitions
        result['open_issues'] = open_issues
        return result


def column_kind(column):
    "How a data column is written: date, number, hours, verdict or text"
    if column in TIMESTAMPS:
        return 'date'
    if column == 'charger_quantity':
        return 'number'
    if column in HOURS:
        return 'hours'
    if column in TRANSITIONS:
        return 'verdict'
    return 'text'


# What a string cell needs xlsxwriter's escapes for: XML's reserved
# characters, control characters and Excel's _xHHHH_ escapes, non-characters,
# whitespace to preserve at either end
NEEDS_ESCAPE = re.compile(
    r'[&<>\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_|^\s|\s$')


class DataSheet(Worksheet):
    """xlsxwriter's worksheet that also takes rows of values whole
    (constant_memory mode).

    write_string and write_number go through a decorator, bounds checks and
    a tuple per cell, then at the row's end a dispatch on the tuple's class
    and an XML helper per attribute: about 10 µs a cell, most of a monthly
    report's million cells. row_writer formats a row in one piece from
    templates made once per column; the cells are written as xlsxwriter
    writes them in this mode (inline strings, the same escapes, tested
    equal in test_report_writer.py)."""

    def row_writer(self, columns):
        """A function write(row, values) putting a row (0-based, after the
        rows written so far) into the sheet. `columns`: (kind, format) per
        column, kind 'number' or 'string', format None or a Format. A value
        None or '' leaves its cell empty."""
        assert self.constant_memory
        templates = []

        def make_templates():
            # Once the row before is written: the formats are numbered in
            # the order xlsxwriter meets them
            for position, (kind, cell_format) in enumerate(columns):
                style = (f' s="{cell_format._get_xf_index()}"'
                    if cell_format else '')
                templates.append((xl_col_to_name(position), style,
                        kind == 'number'))
        if columns:
            self._check_dimensions(self.previous_row, 0, ignore_row=True)
            self._check_dimensions(
                self.previous_row, len(columns) - 1, ignore_row=True)
        search = NEEDS_ESCAPE.search
        limit = self.xls_strmax // 2

        def write(row, values):
            if row <= self.previous_row:
                raise ValueError(f"row {row} is not after the rows written")
            # What the worksheet holds of the row before (a heading)
            self._write_single_row(row)
            if not templates:
                make_templates()
            number = row + 1
            cells = []
            for (letter, style, numeric), value in zip(templates, values):
                if value is None or value == '':
                    continue
                if numeric:
                    cells.append(
                        f'<c r="{letter}{number}"{style}>'
                        f'<v>{value:.16G}</v></c>')
                    continue
                text = value if type(value) is str else str(value)
                space = ''
                if search(text) or len(text) > limit:
                    text, space = self._escape_string(text)
                cells.append(f'<c r="{letter}{number}"{style} t="inlineStr">'
                    f'<is><t{space}>{text}</t></is></c>')
            if cells:
                self.fh.write(f'<row r="{number}">{"".join(cells)}</row>')
                if self.dim_rowmin is None:
                    self.dim_rowmin = row
                if self.dim_rowmax is None or row > self.dim_rowmax:
                    self.dim_rowmax = row
        return write

    def _escape_string(self, text):
        """The text of an inline string cell and its whitespace attribute,
        as write_string and the constant_memory row writer make them"""
        if len(text) > self.xls_strmax // 2 \
                and _utf16_len(text) > self.xls_strmax:
            text = _utf16_truncate(text, self.xls_strmax)
        text = self._escape_control_characters(text)
        space = ' xml:space="preserve"' if _preserve_whitespace(text) else ''
        return self._escape_data(text), space


def write_csv(path, columns, labels, records, summary, verdicts=None):
    """The data sheet as CSV (UTF-8 with a byte order mark, which spreadsheet
    programs need to read it as UTF-8), counting every row in `summary`;
    `verdicts` the translated clock states"""
    verdicts = verdicts or {}
    with open(path, 'w', newline='', encoding='utf-8-sig') as fp:
        writer = csv.writer(fp)
        writer.writerow([labels[c] for c in columns])
        cells = [(INDEX[c], column_kind(c)) for c in columns]
        for record in records:
            summary.add(record)
            writer.writerow([_csv_value(record[i], kind, verdicts)
                    for i, kind in cells])


def _csv_value(value, kind, verdicts):
    if value is None:
        return ''
    if kind == 'hours':
        return f'{value / 3600:.2f}'
    if kind == 'verdict':
        return verdicts.get(value, value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=' ', timespec='seconds')
    return value


def write_xlsx(path, columns, labels, records, summary, header, texts,
        open_issues=None):
    """The XLSX: a Summary sheet (first) and a Data sheet of the records,
    written with constant memory; the summary is written after the data,
    from the figures `summary` counted meanwhile. `header` is the list of
    (label, value) rows on top of the summary, `texts` the translated
    labels of the summary (see summary_rows)."""
    workbook = xlsxwriter.Workbook(path, {
            'constant_memory': True,
            'remove_timezone': True,
            'strings_to_numbers': False,
            'strings_to_formulas': False,
            'strings_to_urls': False,
            })
    bold = workbook.add_format({'bold': True})
    heading = workbook.add_format({
            'bold': True, 'bg_color': '#1F4E78', 'font_color': '#FFFFFF',
            'border': 1})
    title = workbook.add_format({'bold': True, 'font_size': 14})
    stamp = workbook.add_format({'num_format': 'yyyy-mm-dd hh:mm'})
    day = workbook.add_format({'num_format': 'yyyy-mm-dd'})
    percent = workbook.add_format({'num_format': '0.0%'})
    hours = workbook.add_format({'num_format': '0.00'})
    summary_sheet = workbook.add_worksheet(texts['summary_sheet'])
    data_sheet = workbook.add_worksheet(texts['data_sheet'],
        worksheet_class=DataSheet)

    data_sheet.freeze_panes(1, 0)
    for index, column in enumerate(columns):
        width = 18 if column in TIMESTAMPS else max(12, len(labels[column]))
        if column == 'cancellation_reason':
            width = 40
        data_sheet.set_column(index, index, width)
        data_sheet.write_string(0, index, labels[column], heading)
    # The loop below writes a million cells for 100,000 leads: it decides
    # nothing it can know before, and gives the sheet a row at a time
    kinds = [column_kind(column) for column in columns]
    indexes = [INDEX[column] for column in columns]
    number_formats = {'date': stamp, 'hours': hours, 'number': None}
    write_row = data_sheet.row_writer([
            ('number', number_formats[kind]) if kind in number_formats
            else ('string', None)
            for kind in kinds])
    verdicts = texts.get('verdicts', {})
    add = summary.add
    row = 0
    for record in records:
        add(record)
        row += 1
        values = [record[i] for i in indexes]
        for position, kind in enumerate(kinds):
            value = values[position]
            if value is None or value == '':
                continue
            if kind == 'date':
                values[position] = (value - EXCEL_EPOCH) // SECOND / 86400
            elif kind == 'hours':
                values[position] = round(value / 3600, 2)
            elif kind == 'verdict':
                values[position] = verdicts.get(value, value)
        write_row(row, values)
    if columns:
        data_sheet.autofilter(0, 0, max(row, 1), len(columns) - 1)

    summary_sheet.set_column(0, 0, 38)
    summary_sheet.set_column(1, 7, 16)
    formats = {'title': title, 'bold': bold, 'heading': heading,
        'percent': percent, 'hours': hours, 'day': day}
    for number, cells in enumerate(header_rows(header) + summary_rows(
                summary.as_dict(open_issues),
                texts)):
        for index, (value, style) in enumerate(cells):
            _write(summary_sheet, number, index, value, formats.get(style))
    workbook.close()


def _write(sheet, row, column, value, style):
    if value is None or value == '':
        if style:
            sheet.write_blank(row, column, None, style)
        return
    if isinstance(value, dt.datetime):
        sheet.write_datetime(row, column, value, style)
    elif isinstance(value, dt.date):
        sheet.write_datetime(row, column,
            dt.datetime.combine(value, dt.time()), style)
    elif isinstance(value, (int, float)):
        sheet.write_number(row, column, value, style)
    else:
        sheet.write_string(row, column, str(value), style)


def header_rows(header):
    "The title and the (label, value) lines on top of the summary"
    title, *lines = header
    rows = [[(title, 'title')]]
    for label, value in lines:
        rows.append([(label, 'bold'),
                (value, 'day' if isinstance(value, dt.date) else None)])
    rows.append([])
    return rows


def summary_rows(figures, texts):
    """The rows of the summary sheet: [(value, style), ...] per row, for the
    metrics of texts['metrics'] (an ordered {metric: label})"""
    metrics = texts['metrics']
    rows = [[(texts['metric'], 'heading'), (texts['value'], 'heading')]]
    for name in MILESTONES + ['cancelled']:
        if name in metrics:
            rows.append([(metrics[name], None), (figures[name], None)])
    if 'open_issues' in metrics:
        rows.append([(metrics['open_issues'], None),
                (figures['open_issues'], None)])
    if 'sla_compliance' in metrics or 'average_times' in metrics:
        rows.append([])
        heads = [texts['transition'], texts['target_hours']]
        if 'sla_compliance' in metrics:
            heads += [texts['verdicts'][v] for v in VERDICTS]
            heads.append(texts['compliance'])
        if 'average_times' in metrics:
            heads.append(texts['average_hours'])
        rows.append([(h, 'heading') for h in heads])
        for name, values in figures['transitions'].items():
            cells = [(texts['transitions'][name], None),
                (values['target_hours'], 'hours')]
            if 'sla_compliance' in metrics:
                cells += [(values[v], None) for v in VERDICTS]
                cells.append((values['compliance'], 'percent'))
            if 'average_times' in metrics:
                cells.append((values['average_business_hours'], 'hours'))
            rows.append(cells)
    if 'cancelled' in metrics and figures['cancellation_reasons']:
        rows.append([])
        rows.append([(texts['cancellation_reason'], 'heading'),
                (texts['leads'], 'heading')])
        for reason, count in figures['cancellation_reasons'].items():
            rows.append([(reason or texts['no_reason'], None), (count, None)])
    return rows
