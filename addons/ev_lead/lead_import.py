# This file is part of the EV operations suite.
"Import of an OEM's leads from a CSV or XLSX spreadsheet"
import csv
import io

from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.pool import Pool
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .exceptions import LeadError
from .intake import InvalidLead, parse_lead

# The columns of the spreadsheet, by the path of the API field they fill
COLUMNS = {
    'oem_reference': ('oem_reference',),
    'customer_name': ('customer', 'name'),
    'phone': ('customer', 'phone'),
    'email': ('customer', 'email'),
    'street': ('customer', 'address', 'street'),
    'city': ('customer', 'address', 'city'),
    'postal_code': ('customer', 'address', 'postal_code'),
    'state': ('customer', 'address', 'state'),
    'country': ('customer', 'address', 'country'),
    'vehicle_model': ('vehicle', 'model'),
    'vin': ('vehicle', 'vin'),
    'charger_model': ('charger', 'model'),
    'quantity': ('charger', 'quantity'),
    'site_type': ('site_type',),
    'notes': ('notes',),
    }
REQUIRED_COLUMNS = {'oem_reference', 'customer_name', 'phone', 'street',
    'city', 'postal_code', 'country', 'vehicle_model', 'quantity',
    'site_type'}


def read_rows(data, filename):
    "Header-keyed rows of a CSV or XLSX file, with their line numbers"
    if data[:2] == b'PK' or (filename or '').lower().endswith('.xlsx'):
        from openpyxl import load_workbook
        try:
            workbook = load_workbook(
                io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exception:
            raise LeadError(gettext(
                    'ev_lead.msg_import_unreadable', error=exception))
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        header = next(rows, None) or ()
        header = [str(h or '').strip().lower() for h in header]
        for number, row in enumerate(rows, 2):
            if all(v is None or str(v).strip() == '' for v in row):
                continue
            yield number, header, dict(zip(header, row))
    else:
        try:
            text = data.decode('utf-8-sig')
        except UnicodeDecodeError:
            raise LeadError(gettext(
                    'ev_lead.msg_import_unreadable', error="not UTF-8"))
        reader = csv.DictReader(io.StringIO(text))
        header = [(h or '').strip().lower() for h in reader.fieldnames or []]
        reader.fieldnames = header
        for row in reader:
            if all(not (v or '').strip() for v in row.values()
                    if isinstance(v, str)):
                continue
            yield reader.line_num, header, row


def to_body(row):
    "The API body of a spreadsheet row"
    body = {}
    for column, path in COLUMNS.items():
        value = row.get(column)
        if isinstance(value, str):
            value = value.strip() or None
        if column == 'quantity' and value is not None:
            try:
                number = float(value)
                value = int(number) if number == int(number) else value
            except (TypeError, ValueError):
                pass
        elif value is not None and not isinstance(value, str):
            value = str(value)
        node = body
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return body


class ImportStart(ModelView):
    "Import Leads"
    __name__ = 'ev.lead.import.start'

    oem = fields.Many2One(
        'party.party', "OEM", required=True,
        domain=[('ev_is_oem', '=', True)])
    file = fields.Binary("File", required=True, filename='filename',
        help="CSV (UTF-8) or XLSX with the columns: "
        + ", ".join(COLUMNS) + ".")
    filename = fields.Char("File Name")


class ImportDone(ModelView):
    "Leads Imported"
    __name__ = 'ev.lead.import.done'

    report = fields.Text("Report", readonly=True)


class Import(Wizard):
    "Import Leads"
    __name__ = 'ev.lead.import'

    start = StateView('ev.lead.import.start',
        'ev_lead.import_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Import", 'import_', 'tryton-import', default=True),
            ])
    import_ = StateTransition()
    done = StateView('ev.lead.import.done',
        'ev_lead.import_done_view_form', [
            Button("Close", 'end', 'tryton-close', default=True),
            ])

    def transition_import_(self):
        created, skipped = import_leads(
            self.start.oem, self.start.file, self.start.filename)
        self.done.report = gettext('ev_lead.msg_import_done',
            created=len(created), skipped=len(skipped),
            references=', '.join(skipped) or '-')
        return 'done'

    def default_done(self, fields):
        return {'report': self.done.report}


def import_leads(oem, data, filename):
    """Create the leads of the file, or none: a file with any bad row raises
    an error listing every bad row with its reasons.
    Returns the leads created and the references that already existed."""
    pool = Pool()
    Lead = pool.get('sale.opportunity')
    rows = list(read_rows(bytes(data), filename))
    problems = []
    if rows:
        missing = REQUIRED_COLUMNS - set(rows[0][1])
        if missing:
            raise LeadError(gettext('ev_lead.msg_import_columns',
                    columns=', '.join(sorted(missing))))
    seen = {}
    parsed = []
    for number, _, row in rows:
        try:
            values = parse_lead(pool, to_body(row))
        except InvalidLead as exception:
            reasons = '; '.join(
                f"{field.split('.')[-1] or 'row'} {message}"
                for field, message in sorted(exception.errors.items()))
            problems.append(gettext('ev_lead.msg_import_row',
                    row=number, reasons=reasons))
            continue
        reference = values['oem_reference']
        if reference in seen:
            problems.append(gettext('ev_lead.msg_import_row',
                    row=number, reasons=gettext(
                        'ev_lead.msg_import_duplicate', row=seen[reference])))
            continue
        seen[reference] = number
        parsed.append(values)
    if problems:
        raise LeadError(gettext('ev_lead.msg_import_errors',
                count=len(problems), rows='\n'.join(problems)))
    if not parsed:
        raise LeadError(gettext('ev_lead.msg_import_empty'))
    existing = {l.oem_reference for l in Lead.search([
                ('oem', '=', oem.id),
                ('oem_reference', 'in', list(seen)),
                ])}
    created, skipped = [], []
    for values in parsed:
        if values['oem_reference'] in existing:
            skipped.append(values['oem_reference'])
            continue
        created.append(Lead.create_from_api(oem, values))
    return created, skipped
