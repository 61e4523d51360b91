# This file is part of the EV operations suite.
"""The outbox delivers each item once, even when two trytond-cron processes
and a trytond-worker go through the same backlog of customer emails and OEM
webhooks at the same time (a real SMTP server and a real HTTP receiver,
both a little slow, so that the processes overlap)."""
import asyncio
import collections
import contextlib
import json
import os
import signal
import subprocess
import sys
import time

from server import OEMS, _bin, pg_connect, write_conf
from test_oem_webhooks import Receiver

from trytond.modules.ev_station.tests.tools import SMTPServer

BACKLOG = 15

BACKLOG_SCRIPT = r'''
import json, sys
from trytond import config
config.update_etc(sys.argv[2])
from trytond.pool import Pool
from trytond.transaction import Transaction
database, oem_name, url, count = sys.argv[1], sys.argv[3], sys.argv[4], int(sys.argv[5])
pool = Pool(database)
pool.init()
with Transaction().start(database, 0, context={}) as transaction:
    Party = pool.get('party.party')
    Station = pool.get('ev.station')
    Lead = pool.get('sale.opportunity')
    Webhook = pool.get('ev.lead.webhook')
    User = pool.get('res.user')
    admin, = User.search([('login', '=', 'admin')])
    oem, = Party.search([('name', '=', oem_name)])
    oem.ev_webhook_url = url
    oem.ev_webhook_secret = 'backlog'
    oem.save()
    entries, leads = [], []
    for i in range(count):
        customer = Party(name=f"Backlog Customer {i}", contact_mechanisms=[
                {'type': 'email', 'value': f'backlog{i}@example.com'}])
        customer.save()
        station = Station(customer=customer)
        station.save()
        entries.append(station.record_event(
                'customer_update', f"Backlog update {i}").id)
        lead = Lead(party=customer, oem=oem, oem_reference=f'BACKLOG-{i}',
            company=admin.company, currency=admin.company.currency)
        lead.save()
        leads.append(lead)
    webhooks = Webhook.enqueue_for(leads)
    print(json.dumps({'entries': entries,
        'webhooks': [w.event_id for w in webhooks]}))
'''


class SlowSMTP(SMTPServer):
    "Takes 50 ms per message, so that the senders overlap"

    def start(self):
        handle = self.handler.handle_DATA

        async def slow(server, session, envelope):
            await asyncio.sleep(0.05)
            return await handle(server, session, envelope)
        self.handler.handle_DATA = slow
        return super().start()


def outbox_conf(server, smtp):
    "The server's configuration, with a worker and a reachable SMTP server"
    sections = server.conf_sections()
    sections['queue']['worker'] = True
    sections['email']['uri'] = smtp.uri
    path = os.path.join(server.tmpdir, 'outbox.conf')
    write_conf(path, sections)
    return path


def test_two_crons_and_a_worker_deliver_each_item_once(server):
    smtp = SlowSMTP().start()
    receiver = Receiver()
    receiver.start()
    conf = outbox_conf(server, smtp)
    env = server.env(TRYTOND_CONFIG=conf)
    try:
        # The backlog: queued (worker = True), nothing delivered yet
        out = subprocess.run(
            [sys.executable, '-c', BACKLOG_SCRIPT, server.database, conf,
                OEMS[1][1], receiver.url, str(BACKLOG)],
            env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        backlog = json.loads(out.stdout.strip().splitlines()[-1])
        assert len(backlog['entries']) == len(backlog['webhooks']) == BACKLOG
        assert smtp.messages == [] and receiver.received == []
        # Every cron is due now
        server_sql_write(server, 'UPDATE ir_cron SET next_call = NULL')

        logs = []

        def start(name, args):
            log = open(os.path.join(server.tmpdir, f'{name}.log'), 'w')
            logs.append(log)
            # A session of its own: stopping it stops its forked workers
            return subprocess.Popen(args, env=env, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        processes = [
            start(f'cron{i}', [_bin('trytond-cron'), '-c', conf,
                    '-d', server.database, '--once', '-n', '1'])
            for i in range(2)]
        worker = start('worker', [_bin('trytond-worker'), '-c', conf,
                '-d', server.database, '-n', '1'])
        try:
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                pending = server.sql(
                    "SELECT COUNT(*) FROM ev_station_log_email "
                    "WHERE state = 'pending' AND entry IN (%s)"
                    % ','.join(map(str, backlog['entries'])))[0][0]
                pending += server.sql(
                    "SELECT COUNT(*) FROM ev_lead_webhook "
                    "WHERE state = 'pending' AND event_id IN (%s)"
                    % ','.join(f"'{e}'" for e in backlog['webhooks']))[0][0]
                if not pending and all(
                        p.poll() is not None for p in processes):
                    break
                time.sleep(0.5)
        finally:
            for process in [worker, *processes]:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=30)
            for log in logs:
                log.close()

        # Each customer email reached the SMTP server once
        sent = collections.Counter()
        for envelope in smtp.messages:
            for line in envelope.content.decode().splitlines():
                if line.startswith('X-EV-Log-Entry:'):
                    sent[int(line.split(':')[1])] += 1
        assert {e: sent[e] for e in backlog['entries']} == {
            e: 1 for e in backlog['entries']}
        # Each webhook reached the OEM once
        received = collections.Counter(
            h['X-EV-Event-ID'] for h, _ in receiver.received)
        assert {e: received[e] for e in backlog['webhooks']} == {
            e: 1 for e in backlog['webhooks']}
        # ... in one attempt each, all of them recorded
        rows = server.sql(
            "SELECT state, attempt_count FROM ev_station_log_email "
            "WHERE entry IN (%s)" % ','.join(map(str, backlog['entries'])))
        assert rows == [('sent', 1)] * BACKLOG
        attempts = server.sql(
            "SELECT COUNT(*) FROM ev_outbox_attempt a "
            "JOIN ev_lead_webhook w ON a.item = 'ev.lead.webhook,' || w.id "
            "WHERE w.event_id IN (%s)"
            % ','.join(f"'{e}'" for e in backlog['webhooks']))[0][0]
        assert attempts == BACKLOG
    finally:
        smtp.stop()
        receiver.stop()


def server_sql_write(server, query):
    "An SQL statement that writes, on the server's database"
    if server.backend == 'sqlite':
        import sqlite3
        conn = sqlite3.connect(
            os.path.join(server.db_path, f'{server.database}.sqlite'))
        with contextlib.closing(conn):
            conn.execute(query)
            conn.commit()
    else:
        with contextlib.closing(pg_connect(
                    server.uri, server.database, autocommit=True)) as conn:
            conn.execute(query)
