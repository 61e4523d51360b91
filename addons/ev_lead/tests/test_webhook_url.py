# This file is part of the EV operations suite.
"""Where status webhooks may go, with the production defaults (no
[ev_lead] webhook_allow_http, no webhook_allowed_hosts): a plain unit test
of the policy, no database"""
import pytest

from trytond import config
from trytond.modules.ev_lead.webhook import destination_error

pytestmark = pytest.mark.backend_independent


@pytest.fixture(autouse=True)
def production_defaults():
    saved = dict(config.items('ev_lead')) if config.has_section(
        'ev_lead') else None
    if saved is not None:
        config.remove_section('ev_lead')
    yield
    if saved is not None:
        config.add_section('ev_lead')
        for key, value in saved.items():
            config.set('ev_lead', key, value)


@pytest.mark.parametrize('url, error', [
        ('http://93.184.216.34/hook',
            ('msg_webhook_url_scheme', {'schemes': 'https'})),
        ('https://127.0.0.1:8000/hook',
            ('msg_webhook_url_not_public', {'address': '127.0.0.1'})),
        ('https://localhost/hook',
            ('msg_webhook_url_not_public', {'address': '127.0.0.1'})),
        ('https://192.168.1.20/hook',
            ('msg_webhook_url_not_public', {'address': '192.168.1.20'})),
        ('https://172.16.0.5/hook',
            ('msg_webhook_url_not_public', {'address': '172.16.0.5'})),
        ('https://[fe80::1]/hook',
            ('msg_webhook_url_not_public', {'address': 'fe80::1'})),
        ('https://[::ffff:127.0.0.1]/hook',
            ('msg_webhook_url_not_public', {'address': '127.0.0.1'})),
        ('https://host.invalid/hook',
            ('msg_webhook_url_unresolved', {'host': 'host.invalid'})),
        ('https:///hook', ('msg_webhook_url_invalid', {})),
        ('https://example.com:99999/hook', ('msg_webhook_url_invalid', {})),
        ])
def test_refused_by_default(url, error):
    assert destination_error(url) == error


def test_public_address_allowed():
    assert destination_error('https://93.184.216.34:8443/hook') is None


def test_allowed_hosts_and_http_by_configuration():
    config.add_section('ev_lead')
    config.set('ev_lead', 'webhook_allow_http', 'True')
    config.set('ev_lead', 'webhook_allowed_hosts', '10.1.0.0/16 hooks.lan')
    assert destination_error('http://10.1.2.3/hook') is None
    assert destination_error('http://hooks.lan/hook') is None
    assert destination_error('http://10.2.0.1/hook') == (
        'msg_webhook_url_not_public', {'address': '10.2.0.1'})
