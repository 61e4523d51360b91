# This file is part of the EV operations suite.
import datetime
from contextlib import ExitStack
from decimal import Decimal
from functools import wraps
from unittest.mock import patch

from sql import Column

from trytond.i18n import gettext
from trytond.model.exceptions import (
    AccessButtonError, AccessError, DomainValidationError,
    RequiredValidationError, SelectionValidationError)
from trytond.modules.company.tests import create_company, set_company
from trytond.modules.ev_station.exceptions import (
    DisputeError, DisputeValidationError)
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .tools import ModuleDBTestCase, as_user, create_station, create_user


def dispute_transaction(func):
    "A test in a transaction, its company and patches undone before its end"
    @with_transaction()
    @wraps(func)
    def wrapper(self):
        with ExitStack() as self.patches:
            return func(self)
    return wrapper


class DisputeTestCase(ModuleDBTestCase):
    "Disputes: opened on any record, resolved once, kept for ever"

    def setUp(self):
        super().setUp()
        self.hook_calls = []

    def setup_origin(self):
        """Make stations disputable and record the calls of their hooks

        A station stands for the records other modules make disputable:
        what their `_get_origin` extension and hooks do, done here."""
        pool = Pool()
        Dispute = pool.get('ev.dispute')
        Station = pool.get('ev.station')
        calls = self.hook_calls

        def dispute_opened(station, dispute):
            calls.append(('opened', station, dispute, dispute.state))

        def dispute_resolved(station, dispute):
            # What the database holds when the hook runs
            stored = Dispute.read([dispute.id], ['state'])[0]['state']
            calls.append(
                ('resolved', station, dispute, dispute.state, stored))

        self.patches.enter_context(patch.object(
                Dispute, '_get_origin',
                classmethod(lambda cls: ['ev.station'])))
        self.patches.enter_context(patch.object(
                Station, 'dispute_opened', dispute_opened, create=True))
        self.patches.enter_context(patch.object(
                Station, 'dispute_resolved', dispute_resolved, create=True))

    def setup_company(self):
        company = create_company()
        self.patches.enter_context(set_company(company))
        return company

    def create_user(self, login, *groups):
        user = create_user(login, *groups)
        company = Pool().get('company.company')(
            Transaction().context['company'])
        user.companies = [company]
        user.company = company
        user.save()
        return user

    def open_dispute(self, station=None, **values):
        pool = Pool()
        Dispute = pool.get('ev.dispute')
        station = station or create_station()
        values.setdefault('party', station.customer.id)
        values.setdefault('reason', "Two visits were made, one was paid")
        dispute, = Dispute.create([{
                    'origin': str(station),
                    **values,
                    }])
        return dispute

    @dispute_transaction
    def test_open_numbers_and_notifies_the_origin(self):
        "Opening a dispute numbers it, names who and when, tells the origin"
        self.setup_company()
        self.setup_origin()
        User = Pool().get('res.user')
        finance = self.create_user('finance', 'group_finance')
        station = create_station()
        before = datetime.datetime.now()
        with as_user(finance):
            dispute = self.open_dispute(
                station, claimed_amount=Decimal('1500'),
                opened_by=User.search([('login', '=', 'admin')])[0].id)
        self.assertRegex(dispute.number, r'^DSP-\d{6}$')
        self.assertEqual(dispute.state, 'open')
        self.assertEqual(dispute.origin, station)
        self.assertEqual(dispute.opened_by, finance)
        self.assertGreaterEqual(dispute.opened_at, before)
        self.assertEqual(dispute.currency, dispute.company.currency)
        self.assertEqual(
            self.hook_calls, [('opened', station, dispute, 'open')])
        self.assertNotEqual(self.open_dispute().number, dispute.number)

    @dispute_transaction
    def test_accept_with_agreed_amount_calls_the_origin(self):
        "Accepting needs an owner and an agreed amount, then tells the origin"
        self.setup_company()
        self.setup_origin()
        Dispute = Pool().get('ev.dispute')
        finance = self.create_user('finance', 'group_finance')
        dispute = self.open_dispute(claimed_amount=Decimal('1500'))
        station = dispute.origin
        del self.hook_calls[:]
        with as_user(finance):
            dispute = Dispute(dispute.id)
            with self.assertRaises(DisputeError) as cm:
                Dispute.accept([dispute])
            self.assertEqual(cm.exception.message, gettext(
                    'ev_station.msg_dispute_owner_required',
                    dispute=dispute.number))
            Dispute.write([dispute], {'owner': finance.id})
            with self.assertRaises(DisputeError) as cm:
                Dispute.accept([dispute])
            self.assertEqual(cm.exception.message, gettext(
                    'ev_station.msg_dispute_accept_amount',
                    dispute=dispute.number))
            self.assertEqual(self.hook_calls, [])
            Dispute.write([dispute], {'agreed_amount': Decimal('750')})
            Dispute.accept([dispute])
        dispute = Dispute(dispute.id)
        self.assertEqual(dispute.state, 'accepted')
        self.assertEqual(dispute.agreed_amount, Decimal('750'))
        self.assertEqual(dispute.resolved_by, finance)
        self.assertIsNotNone(dispute.resolved_at)
        self.assertEqual(
            self.hook_calls,
            [('resolved', station, dispute, 'accepted', 'accepted')])

    @dispute_transaction
    def test_negative_agreed_amount_refused(self):
        "An agreed amount below zero is refused, and so its acceptance"
        self.setup_company()
        self.setup_origin()
        Dispute = Pool().get('ev.dispute')
        dispute = self.open_dispute()
        with self.assertRaises(DisputeError) as cm:
            # The button's own check, before the field's domain
            dispute.owner = Pool().get('res.user')(Transaction().user)
            dispute.agreed_amount = Decimal('-1')
            Dispute.accept([dispute])
        self.assertEqual(cm.exception.message, gettext(
                'ev_station.msg_dispute_accept_amount_negative',
                dispute=dispute.number))
        with self.assertRaises(DomainValidationError):
            Dispute.write([Dispute(dispute.id)],
                {'agreed_amount': Decimal('-1')})
        self.assertEqual(Dispute(dispute.id).state, 'open')

    @dispute_transaction
    def test_reject_requires_a_resolution(self):
        "Rejecting needs a resolution that says something"
        self.setup_company()
        self.setup_origin()
        Dispute = Pool().get('ev.dispute')
        dispute = self.open_dispute(owner=Transaction().user)
        for resolution in [None, '', '  \n ']:
            with self.subTest(resolution=resolution):
                Dispute.write([dispute], {'resolution': resolution})
                with self.assertRaises(DisputeError) as cm:
                    Dispute.reject([dispute])
                self.assertEqual(cm.exception.message, gettext(
                        'ev_station.msg_dispute_reject_resolution',
                        dispute=dispute.number))
        self.assertEqual(Dispute(dispute.id).state, 'open')
        del self.hook_calls[:]
        Dispute.write([dispute], {'resolution': "The second visit was a "
                "warranty call, paid by the OEM"})
        Dispute.reject([dispute])
        dispute = Dispute(dispute.id)
        self.assertEqual(dispute.state, 'rejected')
        self.assertEqual(
            self.hook_calls,
            [('resolved', dispute.origin, dispute, 'rejected', 'rejected')])

    @dispute_transaction
    def test_resolved_dispute_cannot_be_written(self):
        "Once resolved, nothing on a dispute can be written"
        self.setup_company()
        self.setup_origin()
        Dispute = Pool().get('ev.dispute')
        dispute = self.open_dispute(
            owner=Transaction().user, agreed_amount=Decimal('10'))
        Dispute.accept([dispute])
        message = gettext(
            'ev_station.msg_dispute_resolved_readonly',
            dispute=dispute.number)
        for values in [
                {'agreed_amount': Decimal('20')},
                {'resolution': "Changed my mind"},
                {'state': 'open'},
                {'owner': None},
                ]:
            with self.subTest(values=values):
                with self.assertRaises(AccessError) as cm:
                    Dispute.write([Dispute(dispute.id)], values)
                self.assertEqual(cm.exception.message, message)
        # A second press does nothing: the transition is not allowed
        Dispute.reject([Dispute(dispute.id)])
        self.assertEqual(Dispute(dispute.id).state, 'accepted')

    @dispute_transaction
    def test_opening_values_are_fixed(self):
        "What the dispute was opened with cannot be rewritten"
        self.setup_company()
        self.setup_origin()
        Dispute = Pool().get('ev.dispute')
        dispute = self.open_dispute(claimed_amount=Decimal('5'))
        other = create_station()
        for field, value in [
                ('origin', str(other)),
                ('party', other.customer.id),
                ('reason', "Another reason"),
                ('claimed_amount', Decimal('50')),
                ]:
            with self.subTest(field=field):
                with self.assertRaises(AccessError) as cm:
                    Dispute.write([dispute], {field: value})
                self.assertEqual(cm.exception.message, gettext(
                        'ev_station.msg_dispute_opening_readonly',
                        field=Dispute._fields[field].string))
        # The open dispute's own work may be written
        Dispute.write([dispute], {'owner': Transaction().user})

    @dispute_transaction
    def test_dispute_cannot_be_deleted(self):
        "A dispute is never deleted, open or resolved, even by the admin"
        self.setup_company()
        self.setup_origin()
        Dispute = Pool().get('ev.dispute')
        dispute = self.open_dispute(
            owner=Transaction().user, resolution="Not ours")
        message = gettext('ev_station.msg_dispute_delete')
        with self.assertRaises(AccessError) as cm:
            Dispute.delete([dispute])
        self.assertEqual(cm.exception.message, message)
        Dispute.reject([dispute])
        with self.assertRaises(AccessError) as cm:
            Dispute.delete([Dispute(dispute.id)])
        self.assertEqual(cm.exception.message, message)
        self.assertEqual(Dispute.search([], count=True), 1)

    @dispute_transaction
    def test_reason_cannot_be_blank(self):
        "A dispute says why: not empty, nor only blanks"
        self.setup_company()
        self.setup_origin()
        with self.assertRaises(RequiredValidationError):
            self.open_dispute(reason='')
        for reason in [' ', '   \n\t']:
            with self.subTest(reason=reason):
                with self.assertRaises(DisputeValidationError) as cm:
                    self.open_dispute(reason=reason)
                self.assertEqual(cm.exception.message,
                    gettext('ev_station.msg_dispute_reason_blank'))

    @dispute_transaction
    def test_origin_outside_the_selection_refused(self):
        "Only the records of the registered models can be disputed"
        self.setup_company()
        Dispute = Pool().get('ev.dispute')
        self.assertEqual(Dispute._get_origin(), [])
        with self.assertRaises(SelectionValidationError):
            self.open_dispute()

    @dispute_transaction
    def test_history_is_kept(self):
        "Each version of a dispute stays readable"
        self.setup_company()
        self.setup_origin()
        Dispute = Pool().get('ev.dispute')
        dispute = self.open_dispute(owner=Transaction().user)
        Dispute.write([dispute], {'agreed_amount': Decimal('12.50')})
        Dispute.accept([dispute])

        history = Dispute.__table_history__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*history.select(
                history.state, history.agreed_amount,
                where=history.id == dispute.id,
                order_by=Column(history, '__id').asc))
        versions = [(s, Decimal(str(a)) if a is not None else None)
            for s, a in cursor]
        self.assertEqual(versions, [
                ('open', None),
                ('open', Decimal('12.50')),
                ('accepted', Decimal('12.50')),
                ])
        # One transaction stamps its versions with one time: date the
        # version before the acceptance an hour back, as if accepted later
        hour_ago = datetime.datetime.now() - datetime.timedelta(hours=1)
        cursor.execute(*history.update(
                [history.create_date, history.write_date],
                [hour_ago, hour_ago],
                where=(history.id == dispute.id)
                & (history.state == 'open')))
        with Transaction().set_context(
                _datetime=hour_ago + datetime.timedelta(minutes=1)):
            past = Dispute(dispute.id)
            self.assertEqual(
                (past.state, past.agreed_amount),
                ('open', Decimal('12.50')))
        self.assertEqual(Dispute(dispute.id).state, 'accepted')

    @dispute_transaction
    def test_access_outsiders_cannot_read(self):
        "A field role of ev_station has no access to disputes"
        self.setup_company()
        self.setup_origin()
        Dispute = Pool().get('ev.dispute')
        dispute = self.open_dispute()
        installer = self.create_user('installer', 'group_installation')
        with as_user(installer):
            with self.assertRaises(AccessError):
                Dispute.search([])
            with self.assertRaises(AccessError):
                Dispute.read([dispute.id], ['reason'])
            with self.assertRaises(AccessError):
                self.open_dispute()

    @dispute_transaction
    def test_access_only_finance_resolves(self):
        "A user given access by another module cannot accept nor reject"
        pool = Pool()
        Dispute = pool.get('ev.dispute')
        Access = pool.get('ir.model.access')
        ModelData = pool.get('ir.model.data')
        self.setup_company()
        self.setup_origin()
        # What a module letting its users open disputes does
        support_group = ModelData.get_id('ev_station', 'group_support')
        Access.create([{
                    'model': 'ev.dispute',
                    'group': support_group,
                    'perm_read': True,
                    'perm_write': True,
                    'perm_create': True,
                    }])
        support = self.create_user('support', 'group_support')
        finance = self.create_user('finance', 'group_finance')
        with as_user(support):
            dispute = self.open_dispute(
                owner=finance.id, agreed_amount=Decimal('1'),
                resolution="I agree with myself")
            for button in [Dispute.accept, Dispute.reject]:
                with self.subTest(button=button.__name__):
                    with self.assertRaises(AccessButtonError):
                        button([Dispute(dispute.id)])
            with self.assertRaises(AccessError):
                Dispute.delete([Dispute(dispute.id)])
        self.assertEqual(Dispute(dispute.id).state, 'open')
        with as_user(finance):
            Dispute.accept([Dispute(dispute.id)])
        self.assertEqual(Dispute(dispute.id).state, 'accepted')

    @dispute_transaction
    def test_access_origin_must_be_visible(self):
        "Opening a dispute on a record one cannot read is refused"
        pool = Pool()
        Access = pool.get('ir.model.access')
        Group = pool.get('res.group')
        self.setup_company()
        self.setup_origin()
        station = create_station()
        outsiders, = Group.create([{'name': "Outsiders"}])
        Access.create([{
                    'model': 'ev.dispute',
                    'group': outsiders.id,
                    'perm_read': True,
                    'perm_create': True,
                    }])
        outsider = self.create_user('outsider')
        outsider.groups = [outsiders]
        outsider.save()
        with as_user(outsider):
            with self.assertRaises(AccessError):
                self.open_dispute(station)
        self.assertEqual(self.hook_calls, [])

    @dispute_transaction
    def test_access_other_company_hidden(self):
        "Finance of one company does not see the disputes of another"
        pool = Pool()
        Dispute = pool.get('ev.dispute')
        self.setup_company()
        self.setup_origin()
        dispute = self.open_dispute()
        other = create_company(name="Other EV", currency=dispute.currency)
        finance = self.create_user('finance', 'group_finance')
        finance.companies = [other]
        finance.company = other
        finance.save()
        with as_user(finance), \
                Transaction().set_context(company=other.id):
            self.assertEqual(Dispute.search([]), [])
            with self.assertRaises(AccessError):
                Dispute.read([dispute.id], ['reason'])
