# This file is part of the EV operations suite.
"""The figures of an OEM report and its files, without the database.

The lead rows come as tuples in the order of ROW_FIELDS, once, in a stream:
`Summary.add` counts each row while the writers put it in the data sheet,
so that neither the rows nor the file is ever held whole in memory (the
XLSX is written with xlsxwriter's constant_memory mode, row by row).

A milestone counts in the period when it happened in it ([start, end)); a
transition (e.g. received → contacted) is measured on the leads whose
later milestone happened in the period."""
import csv
import datetime as dt
from collections import Counter

import xlsxwriter

# The columns of the rows the query gives, in this order
ROW_FIELDS = ['number', 'oem_reference', 'status', 'received', 'contacted',
    'surveyed', 'installed', 'closed', 'cancelled', 'cancellation_reason',
    'charger_model', 'charger_quantity', 'site_type']
TIMESTAMPS = {'received', 'contacted', 'surveyed', 'installed', 'closed',
    'cancelled'}
MILESTONES = ['received', 'contacted', 'surveyed', 'installed', 'closed']
# name: (from milestone, to milestone)
TRANSITIONS = {
    'contact': ('received', 'contacted'),
    'survey': ('contacted', 'surveyed'),
    'installation': ('surveyed', 'installed'),
    'closure': ('installed', 'closed'),
    }
# Beyond this many distinct cancellation reasons the rest count as one
MAX_REASONS = 200


INDEX = {name: index for index, name in enumerate(ROW_FIELDS)}
TIMESTAMP_INDEXES = [INDEX[name] for name in ROW_FIELDS if name in TIMESTAMPS]
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
        "`targets` in hours per transition; the period is [start, end]"
        self.start = dt.datetime.combine(start, dt.time())
        self.end = dt.datetime.combine(end + dt.timedelta(days=1), dt.time())
        self.targets = targets
        self.other_reason = other_reason
        self.counts = Counter()
        self.reasons = Counter()
        self.transitions = {name: {'leads': 0, 'met': 0, 'seconds': 0}
            for name in TRANSITIONS}
        self.rows = 0
        self._milestones = [(name, INDEX[name]) for name in MILESTONES]
        self._transitions = [
            (self.transitions[name], INDEX[first], INDEX[then],
                targets[name] * 3600)
            for name, (first, then) in TRANSITIONS.items()]

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
        for figures, first, then, target in self._transitions:
            before, after = record[first], record[then]
            if before is None or after is None \
                    or not start <= after < end:
                continue
            seconds = max((after - before).total_seconds(), 0)
            figures['leads'] += 1
            figures['seconds'] += seconds
            if seconds <= target:
                figures['met'] += 1

    def as_dict(self, open_issues=None):
        """The figures as the API gives them: counts, cancellation reasons,
        and per transition its target, leads, leads within target,
        compliance (0..1) and average hours (None without leads)"""
        transitions = {}
        for name, figures in self.transitions.items():
            leads = figures['leads']
            transitions[name] = {
                'target_hours': self.targets[name],
                'leads': leads,
                'within_target': figures['met'],
                'compliance': (
                    round(figures['met'] / leads, 4) if leads else None),
                'average_hours': (
                    round(figures['seconds'] / leads / 3600, 2)
                    if leads else None),
                }
        result = {name: self.counts[name]
            for name in MILESTONES + ['cancelled']}
        result['cancellation_reasons'] = dict(
            sorted(self.reasons.items(), key=lambda i: (-i[1], i[0])))
        result['transitions'] = transitions
        result['open_issues'] = open_issues
        return result


def write_csv(path, columns, labels, records, summary):
    """The data sheet as CSV (UTF-8 with a byte order mark, which spreadsheet
    programs need to read it as UTF-8), counting every row in `summary`"""
    with open(path, 'w', newline='', encoding='utf-8-sig') as fp:
        writer = csv.writer(fp)
        writer.writerow([labels[c] for c in columns])
        indexes = [INDEX[c] for c in columns]
        for record in records:
            summary.add(record)
            writer.writerow([_csv_value(record[i]) for i in indexes])


def _csv_value(value):
    if value is None:
        return ''
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
    data_sheet = workbook.add_worksheet(texts['data_sheet'])

    data_sheet.freeze_panes(1, 0)
    for index, column in enumerate(columns):
        width = 18 if column in TIMESTAMPS else max(12, len(labels[column]))
        if column == 'cancellation_reason':
            width = 40
        data_sheet.set_column(index, index, width)
        data_sheet.write_string(0, index, labels[column], heading)
    # (position, row index, kind) of the columns: the loop below writes a
    # million cells for 100,000 leads, it decides nothing it can know before
    cells = [(position, INDEX[column],
            'date' if column in TIMESTAMPS
            else 'number' if column == 'charger_quantity' else 'text')
        for position, column in enumerate(columns)]
    write_number, write_string = data_sheet.write_number, \
        data_sheet.write_string
    add = summary.add
    row = 0
    for record in records:
        add(record)
        row += 1
        for position, index, kind in cells:
            value = record[index]
            if value is None or value == '':
                continue
            if kind == 'date':
                write_number(row, position,
                    (value - EXCEL_EPOCH) // SECOND / 86400, stamp)
            elif kind == 'number':
                write_number(row, position, value)
            else:
                write_string(row, position, str(value))
    if columns:
        data_sheet.autofilter(0, 0, max(row, 1), len(columns) - 1)

    summary_sheet.set_column(0, 0, 38)
    summary_sheet.set_column(1, 5, 16)
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
        heads = [texts['transition'], texts['target_hours'], texts['leads']]
        if 'sla_compliance' in metrics:
            heads += [texts['within_target'], texts['compliance']]
        if 'average_times' in metrics:
            heads.append(texts['average_hours'])
        rows.append([(h, 'heading') for h in heads])
        for name, values in figures['transitions'].items():
            cells = [(texts['transitions'][name], None),
                (values['target_hours'], None), (values['leads'], None)]
            if 'sla_compliance' in metrics:
                cells += [(values['within_target'], None),
                    (values['compliance'], 'percent')]
            if 'average_times' in metrics:
                cells.append((values['average_hours'], 'hours'))
            rows.append(cells)
    if 'cancelled' in metrics and figures['cancellation_reasons']:
        rows.append([])
        rows.append([(texts['cancellation_reason'], 'heading'),
                (texts['leads'], 'heading')])
        for reason, count in figures['cancellation_reasons'].items():
            rows.append([(reason or texts['no_reason'], None), (count, None)])
    return rows
