# This file is part of the EV operations suite.
"""Who may speak OCPP with the gateway: the security profiles of OCPP 1.6
(security whitepaper) and 2.0.1.

Profile 1: the charger sends HTTP Basic credentials on the websocket
upgrade, its identity as user name and its own password (ev.charger
ocpp_password, stored hashed). Profile 2: the same over TLS (wss://, the
gateway's certificate in gateway_certfile / gateway_keyfile). The upgrade
of a charger whose user name is not the identity of its URL, whose
identity is unknown or whose password is wrong is answered 401 before any
OCPP message, with the same answer in each case."""
import collections
import datetime
import http
import logging
import ssl
import time
import urllib.parse

from websockets.exceptions import InvalidHeader
from websockets.headers import (
    build_www_authenticate_basic, parse_authorization_basic)

from . import settings
from .ocpp_values import iso

logger = logging.getLogger('ev_charger_iot.gateway')

REALM = 'EV OCPP gateway'
PROFILES = (1, 2)


def identity_of(path):
    "The charger identity of a websocket URL path: its last level"
    return urllib.parse.urlsplit(path).path.rstrip('/').rsplit('/', 1)[-1]


def security_profile():
    profile = settings.get('ocpp_security_profile')
    if profile not in PROFILES:
        raise SystemExit(f"[ev_charger_iot] ocpp_security_profile = "
            f"{profile}: the gateway knows profiles 1 and 2 only")
    return profile


def ssl_context():
    "The gateway's TLS of profile 2, None in profile 1"
    if security_profile() != 2:
        return None
    certfile = settings.get('gateway_certfile')
    if not certfile:
        raise SystemExit("[ev_charger_iot] ocpp_security_profile = 2 (TLS) "
            "needs gateway_certfile and gateway_keyfile")
    # OCPP security profile 2: TLS 1.2 at least
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile, settings.get('gateway_keyfile') or None)
    return context


class FailedLogins:
    """The failed logins of each remote address in the last `window`
    seconds: from `limit` on, the address is refused without a check"""

    def __init__(self, limit, window):
        self.limit, self.window = limit, window
        self.failures = collections.defaultdict(collections.deque)

    def _prune(self, address):
        "Forget the failures older than the window; the count left"
        failures = self.failures.get(address)
        if failures is None:
            return 0
        horizon = time.monotonic() - self.window
        while failures and failures[0] < horizon:
            failures.popleft()
        if not failures:
            del self.failures[address]
        return len(failures)

    def blocked(self, address):
        return self._prune(address) >= self.limit

    def add(self, address):
        if len(self.failures) > 10_000:  # many addresses: forget the old
            for other in list(self.failures):
                self._prune(other)
        self._prune(address)
        self.failures[address].append(time.monotonic())


def basic_auth(check_password, failed=None):
    """The websockets `process_request` that lets through the upgrade of a
    charger that authenticates as the identity of its URL;
    `check_password(identity, password)` is a coroutine"""
    if failed is None:
        failed = FailedLogins(settings.get('ocpp_login_failures'),
            settings.get('ocpp_login_window'))

    async def process_request(connection, request):
        identity = identity_of(request.path)
        address = (connection.remote_address or ('?',))[0]
        try:
            username, password = parse_authorization_basic(
                request.headers['Authorization'])
        except (KeyError, InvalidHeader):
            return refuse(connection, identity, "Missing credentials")
        if failed.blocked(address):
            logger.warning("connection refused: %s: too many failed logins",
                address)
            return refuse(connection, identity, "Invalid credentials",
                log=False)
        # A charger speaks for itself only: its identity, not another's
        if username != identity or not await check_password(
                identity, password):
            failed.add(address)
            return refuse(connection, identity, "Invalid credentials")
        connection.username = username
        return None
    return process_request


def refuse(connection, identity, reason, log=True):
    if log:
        logger.warning(
            "connection refused: id=%r %s", identity, reason.lower())
    response = connection.respond(http.HTTPStatus.UNAUTHORIZED, reason + "\n")
    response.headers['WWW-Authenticate'] = build_www_authenticate_basic(
        REALM)
    return response


class Authorization:
    """The answers of a charger's connection (gateway.Bridge) about id
    tags, from the authorisation list (ev.charger.id_tag)"""

    async def authorize(self, tag):
        "(OCPP status, expiry in ISO 8601 or None) of an id tag"
        status, expires = await self.gateway.ask(
            'ev.charger.id_tag', 'authorize', tag)
        if status != 'Accepted':
            logger.warning("id tag refused charger=%s: %s", self.id, status)
        return status, expires and iso(
            expires.replace(tzinfo=datetime.timezone.utc))

    async def id_tag_info(self, tag):
        "The IdTagInfo of 1.6"
        status, expires = await self.authorize(tag)
        return {'status': status, **({'expiry_date': expires}
                if expires else {})}

    async def id_token_info(self, id_token):
        "The IdTokenInfo of 2.0.1"
        status, expires = await self.authorize(id_token['id_token'])
        return {'status': status, **({'cache_expiry_date_time': expires}
                if expires else {})}
