# This file is part of the EV operations suite.
"""A fake of Meta's Graph API for WhatsApp, on a loopback port: the HTTP
boundary of the tests and the benchmark.

It records every request, answers `POST /<version>/<phone-id>/messages`
with a new wamid, serves media (`GET /<version>/<media-id>` gives the URL,
`GET /media/<media-id>` the bytes, both behind the bearer token) and, as
Meta does, sends signed webhooks (`send_webhook`)."""
import hashlib
import hmac
import http.server
import itertools
import json
import threading
import time
import urllib.error
import urllib.request

PHONE_NUMBER_ID = '106540352242922'
ACCESS_TOKEN = 'EAAG-fake-access-token'
APP_SECRET = 'fake-app-secret-of-meta'
VERIFY_TOKEN = 'fake-verify-token'
VERSION = 'v21.0'


def sign(secret, body):
    "The X-Hub-Signature-256 header Meta puts on `body`"
    return 'sha256=' + hmac.new(
        secret.encode(), body, hashlib.sha256).hexdigest()


def text_message(wamid, wa_id, text, timestamp=None):
    return {'from': wa_id, 'id': wamid,
        'timestamp': str(int(timestamp or time.time())),
        'type': 'text', 'text': {'body': text}}


def media_message(wamid, wa_id, type_, media_id, mime_type, timestamp=None,
        **extra):
    content = {'id': media_id, 'mime_type': mime_type, **extra}
    return {'from': wa_id, 'id': wamid,
        'timestamp': str(int(timestamp or time.time())),
        'type': type_, type_: content}


def status(wamid, value, wa_id, timestamp=None, errors=None):
    result = {'id': wamid, 'status': value, 'recipient_id': wa_id,
        'timestamp': str(int(timestamp or time.time()))}
    if errors:
        result['errors'] = errors
    return result


def notification(messages=(), statuses=(), name="Asha Rao"):
    "The body of a Cloud API webhook with these messages and statuses"
    value = {
        'messaging_product': 'whatsapp',
        'metadata': {'display_phone_number': '918000000000',
            'phone_number_id': PHONE_NUMBER_ID},
        }
    if messages:
        value['contacts'] = [{'profile': {'name': name}, 'wa_id': m['from']}
            for m in messages]
        value['messages'] = list(messages)
    if statuses:
        value['statuses'] = list(statuses)
    return {'object': 'whatsapp_business_account', 'entry': [{
                'id': '102290129340398',
                'changes': [{'value': value, 'field': 'messages'}],
                }]}


def post(url, body, headers=None, timeout=60):
    "(status, parsed JSON or text) of a POST of raw `body`"
    request = urllib.request.Request(url, data=body, method='POST',
        headers={'Content-Type': 'application/json', **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            status_, payload = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status_, payload = error.code, error.read()
    try:
        return status_, json.loads(payload)
    except ValueError:
        return status_, payload.decode(errors='replace')


class FakeGraph:
    "Meta's side: the Graph API and the sender of webhooks"

    def __init__(self, access_token=ACCESS_TOKEN, app_secret=APP_SECRET):
        self.access_token = access_token
        self.app_secret = app_secret
        self.requests = []
        # media id: (bytes, mime type, declared size or None)
        self.media = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.server = None

    @property
    def url(self):
        return f'http://127.0.0.1:{self.server.server_address[1]}'

    def add_media(self, media_id, data, mime_type, file_size=None):
        self.media[media_id] = (data, mime_type, file_size)

    def sent_messages(self):
        "The JSON bodies POSTed to /messages, in order"
        return [json.loads(body) for method, path, _, body in self.requests
            if method == 'POST' and path.endswith('/messages')]

    def _answer(self, handler):
        length = int(handler.headers.get('Content-Length') or 0)
        body = handler.rfile.read(length) if length else b''
        path = handler.path.split('?')[0]
        with self._lock:
            self.requests.append(
                (handler.command, path, dict(handler.headers), body))
        if handler.headers.get('Authorization') \
                != f'Bearer {self.access_token}':
            return 401, 'application/json', json.dumps({'error': {
                        'message': "Invalid OAuth access token",
                        'code': 190}}).encode()
        parts = path.strip('/').split('/')
        if handler.command == 'POST' and len(parts) == 3 \
                and parts[2] == 'messages':
            sent = json.loads(body)
            wamid = f'wamid.FAKE{next(self._ids):08d}'
            return 200, 'application/json', json.dumps({
                    'messaging_product': 'whatsapp',
                    'contacts': [{'input': sent['to'], 'wa_id': sent['to']}],
                    'messages': [{'id': wamid}],
                    }).encode()
        if handler.command == 'GET' and len(parts) == 2 \
                and parts[0] == 'media' and parts[1] in self.media:
            data, mime_type, _ = self.media[parts[1]]
            return 200, mime_type, data
        if handler.command == 'GET' and len(parts) == 2 \
                and parts[1] in self.media:
            data, mime_type, size = self.media[parts[1]]
            return 200, 'application/json', json.dumps({
                    'messaging_product': 'whatsapp',
                    'url': f'{self.url}/media/{parts[1]}',
                    'mime_type': mime_type,
                    'sha256': hashlib.sha256(data).hexdigest(),
                    'file_size': size if size is not None else len(data),
                    'id': parts[1],
                    }).encode()
        return 404, 'application/json', json.dumps({'error': {
                    'message': "Unsupported get request", 'code': 100}
                }).encode()

    def start(self):
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def _reply(self):
                status_, content_type, payload = fake._answer(self)
                self.send_response(status_)
                self.send_header('Content-Type', content_type)
                self.send_header('Content-Length', str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _reply

            def log_message(self, *args):
                pass
        self.server = http.server.ThreadingHTTPServer(
            ('127.0.0.1', 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever,
            daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def send_webhook(self, url, payload, secret=None, signature=None,
            raw=None):
        """POST a webhook to `url` as Meta does: the JSON of `payload` (or
        `raw` bytes) signed with the app secret (or `secret`); `signature`
        replaces the header (False: none)"""
        body = raw if raw is not None else json.dumps(payload).encode()
        headers = {}
        if signature is None:
            headers['X-Hub-Signature-256'] = sign(
                secret or self.app_secret, body)
        elif signature:
            headers['X-Hub-Signature-256'] = signature
        return post(url, body, headers)
