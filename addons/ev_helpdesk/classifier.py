# This file is part of the EV operations suite.
"""The inbox's request classifier: a category and an urgency, each with its
confidence, for a customer's message.

The local classifier runs with no network: scikit-learn, trained at first
use on the labelled set shipped in the module (`data/requests.csv`: text,
category code, urgency; English, Hindi and Hinglish) plus the agents'
corrections passed in as extra rows. Features are TF-IDF of character
n-grams inside words (robust to Hinglish spellings: "paise"/"paisa",
"nahi"/"nhi") and of words and word pairs; per output a linear SVM whose
scores are calibrated into probabilities (sigmoid, on 3-fold
predictions), and the confidence is the probability of the predicted
class. The fitted model is kept in-process, keyed by a hash of the
training rows, so a new correction means a new model and the same rows
never train twice.

An external classifier may be configured instead: `classify_remote` posts
the texts as JSON and reads the same four values per text from the
answer, raising `RemoteClassifierError` with the reason on any failure
(the caller falls back to the local classifier).

This module imports neither Tryton nor scikit-learn when it is imported:
scikit-learn is loaded at the first classification."""
import csv
import hashlib
import json
import os
import re
import socket
import threading
import unicodedata
import urllib.error
import urllib.request
from collections import Counter, OrderedDict

URGENCIES = ('critical', 'high', 'medium', 'low')
TRAINING_PATH = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), 'data', 'requests.csv')
# A correction weighs as much as this many shipped examples: one agent's
# correction must change the answer for that text.
CORRECTION_WEIGHT = 8.0
RANDOM_STATE = 14
_CACHE_SIZE = 4
# The external classifier's answer is read up to this size
MAX_ANSWER = 1 << 20
_FOLDS = 3

_models = OrderedDict()
_lock = threading.Lock()
_shipped = None


class RemoteClassifierError(Exception):
    "The external classifier failed; the message says why"


def normalize(text):
    """The text as the features see it: Unicode NFKC, lower case, digits
    as 0 (an amount or an error code counts by its shape), letters
    repeated three times or more as two ("plzzz", "helppp"), one space."""
    text = unicodedata.normalize('NFKC', text or '').lower()
    text = re.sub(r'\d', '0', text)
    text = re.sub(r'(\D)\1{2,}', r'\1\1', text)
    return re.sub(r'\s+', ' ', text).strip()


def load_rows(path=TRAINING_PATH):
    "The (text, category, urgency) rows of a labelled CSV file"
    with open(path, newline='', encoding='utf-8') as file:
        return [(row['text'], row['category'], row['urgency'])
            for row in csv.DictReader(file)]


def shipped_rows():
    "The training set shipped in the module"
    global _shipped
    if _shipped is None:
        _shipped = tuple(load_rows())
    return _shipped


def _key(rows, corrections):
    digest = hashlib.sha256()
    for kind, part in (('s', rows), ('c', corrections)):
        for text, category, urgency in part:
            digest.update(json.dumps([kind, text, category, urgency],
                    ensure_ascii=False).encode())
    return digest.hexdigest()


def _features():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion
    return FeatureUnion([
            ('chars', TfidfVectorizer(
                    preprocessor=normalize, analyzer='char_wb',
                    ngram_range=(2, 5), sublinear_tf=True, min_df=1)),
            ('words', TfidfVectorizer(
                    preprocessor=normalize, analyzer='word',
                    # Devanagari vowel signs are not \w: keep them in words
                    token_pattern=r'[\w\u0900-\u097f]+',
                    ngram_range=(1, 2), sublinear_tf=True, min_df=1)),
            ])


class Model:
    "The fitted features and the two classifiers"

    def __init__(self, rows, corrections=()):
        rows = list(rows) + list(corrections)
        weights = ([1.0] * (len(rows) - len(corrections))
            + [CORRECTION_WEIGHT] * len(corrections))
        self.features = _features()
        matrix = self.features.fit_transform([r[0] for r in rows])
        self.category = _fit(matrix, [r[1] for r in rows], weights)
        self.urgency = _fit(matrix, [r[2] for r in rows], weights)

    def predict(self, texts):
        if not texts:
            return []
        matrix = self.features.transform(list(texts))
        results = []
        for classifier in (self.category, self.urgency):
            probabilities = classifier.predict_proba(matrix)
            best = probabilities.argmax(axis=1)
            results.append([
                    (str(classifier.classes_[b]), float(p[b]))
                    for b, p in zip(best, probabilities)])
        return [(c, cp, u, up) for (c, cp), (u, up) in zip(*results)]


def _fit(matrix, labels, weights):
    """A linear SVM whose scores are calibrated into probabilities by
    cross-validation (3 folds, in order: deterministic)"""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import LinearSVC
    # A correction of one output only leaves the other one's label empty
    indexes = [i for i, label in enumerate(labels) if label is not None]
    # Each class needs a row in every fold: a category that only an
    # agent's correction or two brought in is repeated up to the folds.
    for label, count in Counter(labels[i] for i in indexes).items():
        if count < _FOLDS:
            first = labels.index(label)
            indexes += [first] * (_FOLDS - count)
    # One SVM on all rows, its calibration learnt from 3-fold predictions
    # (ensemble=False): as accurate here as 3 SVMs, half the time
    classifier = CalibratedClassifierCV(
        LinearSVC(C=0.3, random_state=RANDOM_STATE), cv=_FOLDS,
        ensemble=False)
    classifier.fit(matrix[indexes], [labels[i] for i in indexes],
        sample_weight=[weights[i] for i in indexes])
    return classifier


def model(corrections=(), rows=None):
    """The fitted model of the shipped rows (or `rows`) and `corrections`,
    from the in-process cache when it was fitted before"""
    rows = shipped_rows() if rows is None else tuple(rows)
    corrections = tuple(tuple(c) for c in corrections)
    key = _key(rows, corrections)
    with _lock:
        fitted = _models.get(key)
        if fitted is not None:
            _models.move_to_end(key)
            return fitted
        fitted = Model(rows, corrections)
        _models[key] = fitted
        while len(_models) > _CACHE_SIZE:
            _models.popitem(last=False)
        return fitted


def classify(texts, corrections=()):
    """[(category code, its confidence, urgency, its confidence)] of each
    text, by the local classifier trained on the shipped set and the
    corrections: (text, category code, urgency) rows, where None is a label
    the agent did not correct (it does not train that output)"""
    return model(corrections).predict(texts)


def classify_remote(url, token, texts, timeout=10):
    """Classify `texts` with the external classifier at `url`.

    It receives POST {"texts": [...]} (JSON, with `Authorization: Bearer
    <token>` when a token is set) and answers 200 with {"results": [{
    "category": code, "category_confidence": 0..1, "urgency": one of
    URGENCIES, "urgency_confidence": 0..1}, ...]}, one result per text in
    order. Raises RemoteClassifierError on anything else."""
    texts = list(texts)
    body = json.dumps({'texts': texts}, ensure_ascii=False).encode()
    headers = {
        'Content-Type': 'application/json',
        'Accept': 'application/json',
        }
    if token:
        headers['Authorization'] = f'Bearer {token}'
    request = urllib.request.Request(
        url, data=body, method='POST', headers=headers)
    try:
        with _opener.open(request, timeout=timeout) as answer:
            status = answer.status
            content = answer.read(MAX_ANSWER + 1)
    except urllib.error.HTTPError as exception:
        raise RemoteClassifierError(
            f"classifier answered HTTP {exception.code}") from exception
    except (TimeoutError, socket.timeout) as exception:
        raise RemoteClassifierError(
            f"classifier did not answer within {timeout} s") from exception
    except urllib.error.URLError as exception:
        if isinstance(exception.reason, (TimeoutError, socket.timeout)):
            raise RemoteClassifierError(
                f"classifier did not answer within {timeout} s"
                ) from exception
        raise RemoteClassifierError(
            f"classifier unreachable: {exception.reason}") from exception
    except (OSError, ValueError) as exception:
        raise RemoteClassifierError(
            f"classifier unreachable: {exception}") from exception
    if status != 200:
        raise RemoteClassifierError(f"classifier answered HTTP {status}")
    if len(content) > MAX_ANSWER:
        raise RemoteClassifierError(
            f"classifier's answer is larger than {MAX_ANSWER} bytes")
    try:
        answer = json.loads(content)
    except ValueError as exception:
        raise RemoteClassifierError(
            "classifier's answer is not JSON") from exception
    return parse_remote_answer(answer, len(texts))


def parse_remote_answer(answer, count):
    "The results of a decoded answer of the external classifier"
    results = answer.get('results') if isinstance(answer, dict) else None
    if not isinstance(results, list):
        raise RemoteClassifierError(
            "classifier's answer has no \"results\" list")
    if len(results) != count:
        raise RemoteClassifierError(
            f"classifier answered {len(results)} results for {count} texts")
    parsed = []
    for index, result in enumerate(results):
        if not isinstance(result, dict):
            raise RemoteClassifierError(
                f"classifier's result {index} is not an object")
        category = result.get('category')
        urgency = result.get('urgency')
        if not isinstance(category, str) or not category:
            raise RemoteClassifierError(
                f"classifier's result {index} has no category")
        if urgency not in URGENCIES:
            raise RemoteClassifierError(
                f"classifier's result {index} has an unknown urgency "
                f"{urgency!r}")
        confidences = []
        for name in ('category_confidence', 'urgency_confidence'):
            value = result.get(name)
            if (isinstance(value, bool)
                    or not isinstance(value, (int, float))
                    or not 0 <= value <= 1):
                raise RemoteClassifierError(
                    f"classifier's result {index} has an invalid {name} "
                    f"{value!r}")
            confidences.append(float(value))
        parsed.append(
            (category, confidences[0], urgency, confidences[1]))
    return parsed


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    "A redirect is an error answer, never followed"

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)
