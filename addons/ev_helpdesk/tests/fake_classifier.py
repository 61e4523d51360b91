# This file is part of the EV operations suite.
"An external request classifier of ours on 127.0.0.1, for the tests"
import http.server
import json
import threading


class FakeClassifier:
    "An external classifier on 127.0.0.1 answering what the test sets"

    def __init__(self):
        self.status = 200
        self.body = b''
        self.requests = []
        self.release = threading.Event()
        self.hold = False

    def __enter__(self):
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers['Content-Length'])
                fake.requests.append(
                    (dict(self.headers), json.loads(self.rfile.read(length))))
                if fake.hold:
                    fake.release.wait(10)
                body = fake.body if isinstance(fake.body, bytes) else (
                    json.dumps(fake.body).encode())
                self.send_response(fake.status)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass
        self.server = http.server.ThreadingHTTPServer(
            ('127.0.0.1', 0), Handler)
        self.url = f'http://127.0.0.1:{self.server.server_port}/classify'
        threading.Thread(
            target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *args):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def result(category='payment', urgency='high', category_confidence=0.9,
        urgency_confidence=0.7):
    return {
        'category': category, 'category_confidence': category_confidence,
        'urgency': urgency, 'urgency_confidence': urgency_confidence,
        }
