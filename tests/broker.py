# This file is part of the EV operations suite.
"""A real MQTT broker for the tests and benchmarks: a Mosquitto of our own on
a free loopback port (never the stock one on 1883), restartable, with TLS
and a password file when asked, removed at the end.

    with Broker() as broker:                 # persistent sessions kept
        ... broker.port ...
    Broker(persistence=False).start()        # a benchmark's: nothing on disk
    Broker(secure=True)                      # TLS only, user and password
    Broker(secure=True, users={...}, acl_file=ACL)   # and an ACL
"""
import getpass
import os
import shutil
import subprocess
import tempfile

from server import file_tail, free_port, listening, stop_process, wait_for


def make_certificates(directory):
    """A CA and a server certificate for 127.0.0.1 signed by it (openssl),
    in `directory`; returns the CA certificate's path"""
    def openssl(*args):
        subprocess.run(['openssl', *args], cwd=directory, check=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
        '-subj', '/CN=EV Test CA', '-keyout', 'ca.key', '-out', 'ca.crt')
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1',
        '-keyout', 'server.key', '-out', 'server.csr')
    with open(os.path.join(directory, 'san.ext'), 'w') as fp:
        fp.write('subjectAltName = IP:127.0.0.1\n')
    openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey',
        'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'san.ext',
        '-out', 'server.crt')
    return os.path.join(directory, 'ca.crt')


class Broker:
    "A Mosquitto of our own on a free loopback port: restartable"

    USERNAME = 'ev-ingest'
    PASSWORD = 's3cret-ingest'

    def __init__(self, max_queued=0, secure=False, persistence=True,
            users=None, acl_file=None):
        """With `secure`, TLS only (a certificate of our own CA, ca_certs)
        and a user name and password (USERNAME, PASSWORD, and those of
        `users`: {name: password}) required, and with `acl_file` what each
        may publish and read;
        `max_queued` bounds the messages queued per session (0: none);
        with `persistence` the sessions survive a restart"""
        self.port = free_port()
        self.tmpdir = tempfile.mkdtemp(prefix='ev-mqtt-')
        self.conf = os.path.join(self.tmpdir, 'mosquitto.conf')
        self.log_path = os.path.join(self.tmpdir, 'mosquitto.log')
        if secure:
            self.ca_certs = make_certificates(self.tmpdir)
            password_file = os.path.join(self.tmpdir, 'passwords')
            logins = {self.USERNAME: self.PASSWORD, **(users or {})}
            for n, (username, password) in enumerate(logins.items()):
                subprocess.run(['mosquitto_passwd', '-b'] + (
                        ['-c'] if not n else []) + [
                        password_file, username, password], check=True,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            access = f"""\
allow_anonymous false
password_file {password_file}
{f'acl_file {acl_file}' if acl_file else ''}
certfile {self.tmpdir}/server.crt
keyfile {self.tmpdir}/server.key
"""
        else:
            self.ca_certs = None
            access = "allow_anonymous true\n"
        if persistence:
            storage = (f"persistence true\n"
                f"persistence_location {self.tmpdir}/\n"
                "autosave_interval 1\n")
        else:
            storage = "persistence false\n"
        with open(self.conf, 'w') as fp:
            # Run as root, mosquitto would switch to the user "mosquitto",
            # which cannot write its persistence file here
            fp.write(f"""\
user {getpass.getuser()}
listener {self.port} 127.0.0.1
{access}{storage}\
max_queued_messages {max_queued}
max_inflight_messages 0
log_dest file {self.log_path}
""")
        self.process = None

    def start(self):
        self.process = subprocess.Popen(['mosquitto', '-c', self.conf],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self.listening, timeout=20, message="mosquitto to listen")
        return self

    def listening(self):
        if self.process.poll() is not None:
            raise RuntimeError(f"mosquitto stopped ({self.process.returncode})"
                f":\n{self.log_tail()}")
        return listening(self.port)

    def log_tail(self, size=4000):
        return file_tail(self.log_path, size)

    def stop(self):
        "Stop as a service manager does (SIGTERM: it saves its sessions)"
        stop_process(self.process, timeout=20)
        self.process = None

    def close(self):
        self.stop()
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
