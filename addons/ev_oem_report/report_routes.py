# This file is part of the EV operations suite.
"""The OEM's reports over the OEM API (see ev_lead/routes.py for the key):

GET /<database>/ev/api/v1/reports           the OEM's generated reports,
                                            newest period first
GET /<database>/ev/api/v1/reports/<id>      the file of one of them,
                                            streamed from the filestore

Another OEM's report, or one that does not exist, is a JSON 404 alike: the
answer says nothing of what other OEMs have."""
from werkzeug.wsgi import wrap_file

from trytond.modules.ev_lead.routes import _user_oem, oem_api
from trytond.modules.ev_station.api import (
    INT_MAX, APIError, json_errors, json_response, only)
from trytond.protocols.wrappers import Response, with_pool, with_transaction
from trytond.transaction import without_check_access
from trytond.wsgi import app

from .report import MIME_TYPES

# Reports listed at most per request (?limit=, ?offset= page through)
MAX_LIMIT = 100

only('/<database_name>/ev/api/v1/reports', 'GET')
only('/<database_name>/ev/api/v1/reports/<path:report_id>', 'GET')


def _report_model(pool):
    try:
        return pool.get('ev.oem.report')
    except KeyError:
        # A database without ev_oem_report
        raise APIError(404, {'error': "no such route"})


def _integer(request, name, default, maximum):
    value = request.args.get(name)
    if value is None:
        return default
    if not value.isdigit() or int(value) > maximum:
        raise APIError(400, {'errors': {
                    name: f"must be an integer from 0 to {maximum}"}})
    return int(value)


@app.route('/<database_name>/ev/api/v1/reports', methods=['GET'])
@json_errors
@with_pool
@with_transaction(readonly=True)
@oem_api
def list_reports(request, pool):
    Report = _report_model(pool)
    oem = _user_oem(pool)
    limit = _integer(request, 'limit', MAX_LIMIT, MAX_LIMIT)
    offset = _integer(request, 'offset', 0, INT_MAX)
    # The record rules keep the user to its OEM's reports (it may not
    # search on the OEM, a party); checked again as the lead routes do
    reports = Report.search([('state', '=', 'done')],
        offset=offset, limit=limit)
    with without_check_access():
        reports = [r for r in Report.browse([r.id for r in reports])
            if r.oem.id == oem.id]
        return json_response({'reports': [r.api_summary() for r in reports]})


@app.route('/<database_name>/ev/api/v1/reports/<path:report_id>',
    methods=['GET'])
@json_errors
@with_pool
@with_transaction(readonly=True)
@oem_api
def download_report(request, pool, report_id):
    Report = _report_model(pool)
    oem = _user_oem(pool)
    not_found = APIError(404, {'error': "no report with that id"})
    if not report_id.isdigit() or int(report_id) > INT_MAX:
        raise not_found
    reports = Report.search([
            ('id', '=', int(report_id)),
            ('state', '=', 'done'),
            ], limit=1)
    if not reports:
        raise not_found
    with without_check_access():
        report = Report(reports[0].id)
        if report.oem.id != oem.id:
            raise not_found
        return _file_response(request, report)


def _file_response(request, report):
    mimetype = MIME_TYPES[report.file_format]
    path = report.file_path()
    if path:
        # Opened before the transaction ends; sent in blocks as the client
        # reads (constant memory whatever the size)
        body = wrap_file(request.environ, open(path, 'rb'),
            buffer_size=64 * 1024)
    else:
        body = report.file or b''
    response = Response(body, mimetype=mimetype, direct_passthrough=True)
    response.headers['Content-Disposition'] = (
        f'attachment; filename="{report.file_name}"')
    if report.file_size is not None:
        response.headers['Content-Length'] = str(report.file_size)
    return response
