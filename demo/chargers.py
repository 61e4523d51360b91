"""The demo chargers on the MQTT contract, for `./ev run`:

    python -m demo.chargers -c tryton.conf

Each demo charger (demo/__main__.py CHARGERS) boots, then every `--period`
seconds sends a heartbeat, its connectors' statuses and meter values, so
that the *Chargers* overview of the back office shows every health bucket:
CP-DEMO-01 available, 02 and 06 charging, 03 with a faulted connector, 04
with a weak signal, and 05 silent (offline once the heartbeats are three
minutes old). They answer the commands sent from the back office
(ev/<id>/cmd) with Accepted, as a real charger or the OCPP gateway does."""
import argparse
import datetime
import json
import logging
import signal
import threading

logger = logging.getLogger('demo.chargers')

# identity → (rssi, {connector: status}, power W when charging)
BEHAVIOUR = {
    'CP-DEMO-01': (-61, {1: 'Available'}, 0),
    'CP-DEMO-02': (-70, {1: 'Charging'}, 21800),
    'CP-DEMO-03': (-66, {1: 'Available', 2: 'Faulted'}, 0),
    'CP-DEMO-04': (-97, {1: 'Available', 2: 'Available'}, 0),
    'CP-DEMO-06': (-58, {1: 'Charging'}, 24500),
    }
FIRMWARE = '1.8.2'


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec='seconds')


class Simulator:

    def __init__(self, period):
        from trytond.modules.ev_charger_iot import mqtt
        self.period = period
        self.energy = {identity: 1_250_000.0 for identity in BEHAVIOUR}
        self.stopping = threading.Event()
        self.client = mqtt.make_client('ev-demo-chargers')
        self.client.on_connect = self.on_connect
        self.client.on_message = self.on_message
        mqtt.connect(self.client)

    def publish(self, identity, kind, payload):
        self.client.publish(f'ev/{identity}/{kind}', json.dumps(payload),
            qos=1)

    def on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            logger.warning("broker refused the connection: %s", reason_code)
            return
        client.subscribe([(f'ev/{identity}/cmd', 1)
                for identity in BEHAVIOUR])
        logger.info("demo chargers connected")

    def on_message(self, client, userdata, message):
        identity = message.topic.split('/')[1]
        try:
            command = json.loads(message.payload)
            self.publish(identity, 'cmd/result', {'id': command['id'],
                    'status': 'Accepted',
                    'detail': f"demo charger: {command['action']} done"})
        except (ValueError, KeyError, TypeError):
            logger.warning("ignored a malformed command on %s",
                message.topic)

    def boot(self):
        for identity in BEHAVIOUR:
            # No vendor nor model: the registered ones stay
            self.publish(identity, 'boot', {'serial': f'SN-{identity[-2:]}',
                    'firmware': FIRMWARE, 'ts': now()})

    def tick(self):
        for identity, (rssi, connectors, power) in BEHAVIOUR.items():
            ts = now()
            self.publish(identity, 'heartbeat', {'ts': ts, 'rssi': rssi})
            for connector, status in connectors.items():
                self.publish(identity, 'status', {'connector': connector,
                        'status': status, 'ts': ts,
                        'error_code': ('GroundFailure' if status == 'Faulted'
                            else 'NoError')})
                if status == 'Charging':
                    self.energy[identity] += power * self.period / 3600
                    self.publish(identity, 'meter', {'connector': connector,
                            'energy_wh': round(self.energy[identity], 1),
                            'power_w': power, 'ts': ts})

    def run(self):
        self.client.loop_start()
        self.boot()
        while not self.stopping.is_set():
            self.tick()
            self.stopping.wait(self.period)
        self.client.disconnect()
        self.client.loop_stop()

    def stop(self, *args):
        self.stopping.set()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('-c', '--config', help="trytond configuration file")
    parser.add_argument('--period', type=float, default=30,
        help="seconds between two heartbeats of a charger (default 30)")
    options = parser.parse_args()
    logging.basicConfig(level=logging.INFO,
        format='%(asctime)s %(levelname)s %(name)s %(message)s')
    from trytond.modules.ev_charger_iot import settings
    settings.load(options.config)
    simulator = Simulator(options.period)
    signal.signal(signal.SIGTERM, simulator.stop)
    signal.signal(signal.SIGINT, simulator.stop)
    simulator.run()


if __name__ == '__main__':
    main()
