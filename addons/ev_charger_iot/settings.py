# This file is part of the EV operations suite.
"""The [ev_charger_iot] settings of tryton.conf, shared by the module, the
cron, the ingestion service and the OCPP gateway.

Every value can be overridden by an environment variable
TRYTOND_EV_CHARGER_IOT__<KEY> (see `load`)."""
import argparse
import datetime
import logging
import os
import sys

import trytond.config as config

SECTION = 'ev_charger_iot'

DEFAULTS = {
    'mqtt_host': '127.0.0.1',
    'mqtt_port': 1883,
    'mqtt_tls': False,
    'mqtt_ca_certs': '',
    'mqtt_certfile': '',
    'mqtt_keyfile': '',
    'mqtt_username': '',
    'mqtt_password': '',
    'mqtt_keepalive': 30,
    # Client id of the ingestion service; its persistent session is kept by
    # the broker under this id for session_expiry seconds.
    'ingest_client_id': 'ev-ingest',
    'session_expiry': 86400,
    # Empty: one ingestion process; a name: MQTT 5 shared subscription
    # $share/<name>/... so that several processes share the stream.
    'shared_group': '',
    'batch_size': 2000,
    'batch_delay_ms': 100,
    'receive_maximum': 6000,
    'heartbeat_interval': 60,
    'heartbeat_multiple': 3,
    'weak_rssi': -85,
    'offline_alert_delay': 300,
    'fault_alert_delay': 120,
    'command_timeout': 120,
    'command_poll_ms': 500,
    # Seconds the OCPP gateway waits for a charger's answer to a call
    'ocpp_call_timeout': 20,
    # Seconds the services wait for a database connection (the pool, each
    # connection attempt) before they say the database is unavailable
    'database_timeout': 3,
    'gateway_listen': '127.0.0.1:9000',
    'gateway_client_id': 'ev-ocpp-gateway',
    # OCPP security profile of the gateway: 1 HTTP Basic with the charger's
    # password, 2 the same over TLS (gateway_certfile, gateway_keyfile).
    # No profile 0: a charger always proves who it is.
    'ocpp_security_profile': 2,
    'gateway_certfile': '',
    'gateway_keyfile': '',
    # Failed logins from one address within ocpp_login_window seconds
    # beyond which its next attempts are refused unchecked (each check
    # costs a password hash: no CPU burnt for a guesser)
    'ocpp_login_failures': 20,
    'ocpp_login_window': 60,
    }


def load(path=None):
    """Read the configuration file (`path` or TRYTOND_CONFIG), then let the
    environment override this section: trytond reads the environment
    before the file, so a file would otherwise hide it"""
    path = path or os.environ.get('TRYTOND_CONFIG')
    if path:
        config.update_etc(path)
    prefix = f'TRYTOND_{SECTION.upper()}__'
    for key, value in os.environ.items():
        if key.startswith(prefix):
            if not config.has_section(SECTION):
                config.add_section(SECTION)
            config.set(SECTION, key[len(prefix):].lower(), value)


def get(name):
    default = DEFAULTS[name]
    if isinstance(default, bool):
        return config.getboolean(SECTION, name, default=default)
    if isinstance(default, int):
        return config.getint(SECTION, name, default=default)
    return config.get(SECTION, name, default=default)


def offline_after():
    "How long without a heartbeat before a charger counts as offline"
    return datetime.timedelta(
        seconds=get('heartbeat_interval') * get('heartbeat_multiple'))


def seconds(name):
    return datetime.timedelta(seconds=get(name))


def open_pool(database):
    "The Tryton pool of `database`, loaded, for a service process"
    from trytond.pool import Pool
    Pool.start()
    pool = Pool(database)
    pool.init()
    return pool


def service_options(module, doc, argv=None, add_arguments=None):
    """The command line of a service (-c, -d, -v and its own arguments);
    sets up the logging and loads the configuration"""
    program = os.path.basename(sys.argv[0])
    if program.endswith('.py'):  # python -m
        program = f'python -m trytond.modules.ev_charger_iot.{module}'
    parser = argparse.ArgumentParser(
        prog=program, description=doc.split('\n\n')[0])
    parser.add_argument('-c', '--config', help="trytond configuration file")
    parser.add_argument('-d', '--database', required=True)
    parser.add_argument('-v', '--verbose', action='store_true')
    if add_arguments:
        add_arguments(parser)
    options = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if options.verbose else logging.INFO,
        format='%(asctime)s %(levelname)s %(name)s %(message)s')
    load(options.config)
    return options
