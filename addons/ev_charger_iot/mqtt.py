# This file is part of the EV operations suite.
"""The MQTT client of the services (ingestion, OCPP gateway, demo chargers),
set up from [ev_charger_iot] in one place: MQTT 5, TLS and credentials,
reconnection, and for the ingestion a persistent session with manual
acknowledgements and the shared subscription of its group."""
from . import contract, settings


def make_client(client_id, manual_ack=False):
    """A paho MQTT 5 client with the TLS and credentials of [ev_charger_iot]
    that reconnects by itself (1 s to 10 s apart)"""
    from paho.mqtt.client import CallbackAPIVersion, Client, MQTTv5
    client = Client(callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id, protocol=MQTTv5)
    if settings.get('mqtt_username'):
        client.username_pw_set(
            settings.get('mqtt_username'),
            settings.get('mqtt_password') or None)
    if settings.get('mqtt_tls'):
        client.tls_set(
            ca_certs=settings.get('mqtt_ca_certs') or None,
            certfile=settings.get('mqtt_certfile') or None,
            keyfile=settings.get('mqtt_keyfile') or None)
    if manual_ack:
        client.manual_ack_set(True)
    client.reconnect_delay_set(min_delay=1, max_delay=10)
    return client


def connect(client, session=False):
    """Connect in the background (paho's loop connects and reconnects);
    with `session`, a persistent session: the broker keeps the
    subscriptions and the unacknowledged messages while the client is away
    (restart, crash) for session_expiry seconds"""
    options = {}
    if session:
        options = dict(clean_start=False, properties=session_properties())
    client.connect_async(settings.get('mqtt_host'), settings.get('mqtt_port'),
        keepalive=settings.get('mqtt_keepalive'), **options)


def session_properties():
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = settings.get('session_expiry')
    # How many unacknowledged messages the broker may send: a batch is
    # acknowledged after its commit, so this bounds the batch size
    properties.ReceiveMaximum = settings.get('receive_maximum')
    return properties


def ingested_topics(shared_group=None):
    """The topic filters of the ingested kinds; with a group, an MQTT 5
    shared subscription ($share/<group>/...): the broker splits the stream
    between the processes of the group"""
    prefix = f'$share/{shared_group}/' if shared_group else ''
    return [f'{prefix}{contract.TOPIC_PREFIX}/+/{kind}'
        for kind in contract.INGESTED]
