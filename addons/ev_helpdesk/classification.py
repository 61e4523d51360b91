# This file is part of the EV operations suite.
"""The inbox's classification: each new request gets a category and an
urgency with the classifier's confidence, unless a person set them; the
agents' corrections are kept and train the local classifier.

The classifier itself is `classifier.py` (pure Python). The external one is
used when the helpdesk configuration names its URL; when it fails, the
local one answers and the request says why (`classifier_error`).

A correction is an agent changing the category or the urgency of a request
that the classifier had classified: it is kept as an immutable
`ev.helpdesk.correction` (who, when, the text, the old and new values, the
confidence the classifier had), and the latest correction of each request
is a training row of the local classifier from then on."""
import datetime as dt
import logging
import urllib.parse

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.model.exceptions import ValidationError
from trytond.modules.ev_station.immutable import ImmutableMixin
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access

from . import classifier
from .category import PRIORITIES

logger = logging.getLogger(__name__)

CLASSIFIERS = [
    (None, ""),
    ('local', "Local"),
    ('external', "External"),
    ]
# The corrections that train the classifier: the latest ones
TRAINING_CORRECTIONS = 5000


class Configuration(metaclass=PoolMeta):
    __name__ = 'ev.helpdesk.configuration'

    classifier_url = fields.Char("External Classifier URL",
        help="An HTTP service that classifies the inbox's requests instead "
        "of the local classifier; when it fails, the local one answers.")
    classifier_token = fields.Char("External Classifier Token", strip=False,
        help="Sent as \"Authorization: Bearer <token>\".")
    classifier_timeout = fields.Float("External Classifier Timeout",
        required=True, digits=(3, 1),
        domain=[('classifier_timeout', '>', 0)],
        help="Seconds to wait for the external classifier's answer.")

    @classmethod
    def default_classifier_timeout(cls):
        return 5.0

    @classmethod
    def validate_fields(cls, configurations, field_names):
        super().validate_fields(configurations, field_names)
        if field_names and 'classifier_url' not in field_names:
            return
        for configuration in configurations:
            url = configuration.classifier_url
            if not url:
                continue
            try:
                parts = urllib.parse.urlsplit(url)
            except ValueError:
                parts = None
            if (not parts or parts.scheme not in {'http', 'https'}
                    or not parts.hostname):
                raise ValidationError(gettext(
                        'ev_helpdesk.msg_classifier_url_invalid', url=url))


class Request(metaclass=PoolMeta):
    __name__ = 'ev.helpdesk.request'

    classified_by = fields.Selection(CLASSIFIERS, "Classified By",
        readonly=True,
        help="Which classifier set the category and the urgency that "
        "show a confidence.")
    classifier_error = fields.Char("Classifier Error", readonly=True,
        help="Why the external classifier did not answer (the local one "
        "did).")
    corrections = fields.One2Many('ev.helpdesk.correction', 'request',
        "Corrections", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'reclassify': {
                    'invisible': Eval('state') != 'new',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def create(cls, vlist):
        requests = super().create(vlist)
        # A request a person types in is classified and routed too (the
        # channels' `receive` calls both again: nothing left to do then).
        # The inbox does it, not the user: an agent may create a request
        # that only another department will see.
        with without_check_access():
            requests = cls.browse(requests)
            cls.classify(requests)
            cls.route(requests)
        return cls.browse(requests)

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        # A value written without its confidence was set by a person
        for name in ['category', 'urgency']:
            if name in values and f'{name}_confidence' not in values:
                values[f'{name}_confidence'] = None
        return values

    @classmethod
    def on_write(cls, requests, values):
        callback = super().on_write(requests, values)
        corrected = [n for n in ['category', 'urgency']
            if n in values and values.get(f'{n}_confidence') is None]
        if not corrected:
            return callback
        corrections = []
        for request in requests:
            if not request.classified_by:
                continue
            old = {
                'category': request.category and request.category.id,
                'urgency': request.urgency,
                }
            new = {n: values.get(n, old[n]) for n in old}
            if all(old[n] == new[n] for n in corrected):
                continue
            corrections.append({
                    'request': request.id,
                    'text': request.text or '',
                    'old_category': old['category'],
                    'new_category': new['category'],
                    'old_urgency': old['urgency'],
                    'new_urgency': new['urgency'],
                    'category_confidence': request.category_confidence,
                    'urgency_confidence': request.urgency_confidence,
                    })
        if corrections:
            callback.append(lambda: cls._record_corrections(corrections))
        return callback

    @classmethod
    def _record_corrections(cls, vlist):
        Correction = Pool().get('ev.helpdesk.correction')
        with without_check_access():
            Correction.create(vlist)

    @classmethod
    def classify(cls, requests):
        super().classify(requests)
        cls._classify(requests)

    @classmethod
    def _classify(cls, requests, again=False):
        """Set the category and urgency of the new requests that have a
        text and miss them; `again` also replaces what the classifier set
        before (a value without confidence was set by a person)"""
        Category = Pool().get('ev.helpdesk.category')

        def open_(request, name):
            return (getattr(request, name) is None
                or (again and getattr(request, f'{name}_confidence')
                    is not None))
        todo = [r for r in requests
            if r.state == 'new' and (r.text or '').strip()
            and (open_(r, 'category') or open_(r, 'urgency'))]
        if not todo:
            return
        results, classified_by, error = cls.classifier_results(
            [r.text for r in todo])
        categories = {}
        to_save = []
        for request, result in zip(todo, results):
            code, category_confidence, urgency, urgency_confidence = result
            if open_(request, 'category'):
                if code not in categories:
                    categories[code] = Category.from_code(code)
                if categories[code]:
                    request.category = categories[code]
                    request.category_confidence = round(
                        category_confidence, 2)
                else:
                    logger.warning(
                        "classifier answered unknown category %r", code)
            if open_(request, 'urgency'):
                request.urgency = urgency
                request.urgency_confidence = round(urgency_confidence, 2)
            request.classified_by = classified_by
            request.classifier_error = error
            to_save.append(request)
        cls.save(to_save)

    @classmethod
    def classifier_results(cls, texts):
        """The classifier's results for texts, which classifier answered
        and why the external one did not, if it was asked"""
        pool = Pool()
        Configuration = pool.get('ev.helpdesk.configuration')
        Correction = pool.get('ev.helpdesk.correction')
        with without_check_access():
            configuration = Configuration(1)
            url = configuration.classifier_url
            token = configuration.classifier_token
            timeout = configuration.classifier_timeout or 5
        error = None
        if url:
            try:
                return (classifier.classify_remote(url, token, texts,
                        timeout=timeout), 'external', None)
            except classifier.RemoteClassifierError as exception:
                error = str(exception)
                logger.warning("external classifier failed: %s", error)
        results = classifier.classify(texts, Correction.training_rows())
        return results, 'local', error

    @classmethod
    @ModelView.button
    def reclassify(cls, requests):
        "Classify again, keeping what a person set"
        with without_check_access():
            requests = cls.browse(requests)
            cls._classify(requests, again=True)
            cls.route(requests)


class Correction(ImmutableMixin, ModelSQL, ModelView):
    "An agent's correction of the classifier: evidence and training"
    __name__ = 'ev.helpdesk.correction'
    __string__ = "Helpdesk Classifier Correction"

    request = fields.Many2One('ev.helpdesk.request', "Request",
        required=True, readonly=True, ondelete='RESTRICT')
    text = fields.Text("Text", readonly=True)
    corrected_by = fields.Many2One('res.user', "Corrected By",
        required=True, readonly=True, ondelete='RESTRICT')
    corrected_at = fields.DateTime("Corrected At", required=True,
        readonly=True)
    old_category = fields.Many2One('ev.helpdesk.category', "Old Category",
        readonly=True, ondelete='RESTRICT')
    new_category = fields.Many2One('ev.helpdesk.category', "New Category",
        readonly=True, ondelete='RESTRICT')
    old_urgency = fields.Selection([(None, '')] + PRIORITIES,
        "Old Urgency", readonly=True, sort=False)
    new_urgency = fields.Selection([(None, '')] + PRIORITIES,
        "New Urgency", readonly=True, sort=False)
    category_confidence = fields.Float("Category Confidence",
        digits=(1, 2), readonly=True,
        help="The classifier's confidence in the old category.")
    urgency_confidence = fields.Float("Urgency Confidence",
        digits=(1, 2), readonly=True,
        help="The classifier's confidence in the old urgency.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('corrected_at', 'DESC'), ('id', 'DESC')]

    @classmethod
    def default_corrected_by(cls):
        return Transaction().user

    @classmethod
    def default_corrected_at(cls):
        return dt.datetime.now()

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        # Who and when are the transaction's, whatever is sent
        if mode == 'create':
            values['corrected_by'] = Transaction().user
            values['corrected_at'] = dt.datetime.now()
        return values

    @classmethod
    def training_rows(cls):
        """The (text, category code, urgency) rows the corrections teach,
        the latest correction of each request and each output winning; an
        output the agent did not correct is None"""
        Category = Pool().get('ev.helpdesk.category')
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(
                table.request, table.text,
                table.old_category, table.new_category,
                table.old_urgency, table.new_urgency,
                order_by=[table.id.desc],
                limit=TRAINING_CORRECTIONS))
        latest = {}
        for (request, text, old_category, new_category, old_urgency,
                new_urgency) in cursor:
            row = latest.setdefault(request, [text, None, None])
            if old_category != new_category and new_category:
                if row[1] is None:
                    row[1] = new_category
            if old_urgency != new_urgency and new_urgency:
                if row[2] is None:
                    row[2] = new_urgency
        category_ids = sorted({r[1] for r in latest.values() if r[1]})
        with without_check_access():
            codes = {c.id: c.code for c in Category.browse(category_ids)}
        rows = []
        for request in sorted(latest):
            text, category, urgency = latest[request]
            category = codes.get(category)
            if (text or '').strip() and (category or urgency):
                rows.append((text, category, urgency))
        return rows
