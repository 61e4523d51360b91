#!/usr/bin/env python3
"""Benchmark of the helpdesk inbox's local request classifier (`./ev bench`).

The classifier is pure Python (scikit-learn): no database. It is trained on
the set shipped in ev_helpdesk (`data/requests.csv`) and judged on the
held-out set of its tests (`tests/data/requests_heldout.csv`), as
`test_classifier` does, against the majority-class baselines.

Figures:
  classifier_category_accuracy / _urgency_accuracy   on the held-out set
  classifier_category_baseline / _urgency_baseline   always answering the
                                                     most frequent label
  classifier_category_accuracy_devanagari            the Hindi messages only
  classifier_train_time         fitting the model at first use (cache empty;
                                scikit-learn already imported)
  classifier_train_time_corrections  the same with 200 agents' corrections
  classifier_latency_median/_p95     one request classified on its own (the
                                     inbox classifies a request at intake),
                                     over every held-out text
  classifier_batch_per_request       per request, all held-out texts in one
                                     call

It prints lines `bench: <name> <value> <unit>` and never fails on time.

    .venv/bin/python tests/bench/bench_classifier.py
"""
import argparse
import collections
import os
import statistics
import time

from trytond.modules.ev_helpdesk import classifier

HELDOUT = os.path.join(os.path.dirname(classifier.__file__),
    'tests', 'data', 'requests_heldout.csv')


def bench(name, value, unit):
    print(f'bench: {name} {value} {unit}', flush=True)


def accuracy(expected, predicted):
    return sum(e == p for e, p in zip(expected, predicted)) / len(expected)


def baseline(labels):
    return collections.Counter(labels).most_common(1)[0][1] / len(labels)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeat', type=int, default=1,
        help="classify every held-out text this many times for latency")
    # ./ev bench passes its arguments to every benchmark
    args, _ = parser.parse_known_args()

    heldout = classifier.load_rows(HELDOUT)
    texts = [t for t, _, _ in heldout]
    # Imported outside the timings: a server imports it once
    import sklearn.calibration  # noqa: F401
    import sklearn.svm  # noqa: F401

    classifier._models.clear()
    start = time.perf_counter()
    model = classifier.model()
    bench('classifier_train_time', round(time.perf_counter() - start, 3),
        's')
    bench('classifier_training_rows', len(classifier.shipped_rows()), 'rows')

    corrections = [(t, c, u) for t, c, u in classifier.shipped_rows()[:200]]
    start = time.perf_counter()
    classifier.model(corrections)
    bench('classifier_train_time_corrections',
        round(time.perf_counter() - start, 3), 's')

    predictions = model.predict(texts)
    categories = [c for _, c, _ in heldout]
    urgencies = [u for _, _, u in heldout]
    bench('classifier_heldout_rows', len(heldout), 'rows')
    bench('classifier_category_accuracy',
        round(accuracy(categories, [p[0] for p in predictions]), 3), 'ratio')
    bench('classifier_category_baseline', round(baseline(categories), 3),
        'ratio')
    bench('classifier_urgency_accuracy',
        round(accuracy(urgencies, [p[2] for p in predictions]), 3), 'ratio')
    bench('classifier_urgency_baseline', round(baseline(urgencies), 3),
        'ratio')
    hindi = [(c, p[0]) for (t, c, _), p in zip(heldout, predictions)
        if any('\u0900' <= ch <= '\u097f' for ch in t)]
    bench('classifier_category_accuracy_devanagari',
        round(accuracy(*zip(*hindi)), 3), 'ratio')

    timings = []
    for _ in range(args.repeat):
        for text in texts:
            start = time.perf_counter()
            classifier.classify([text])
            timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    bench('classifier_latency_median', round(statistics.median(timings), 2),
        'ms')
    bench('classifier_latency_p95',
        round(timings[int(len(timings) * 0.95) - 1], 2), 'ms')
    start = time.perf_counter()
    classifier.classify(texts)
    bench('classifier_batch_per_request',
        round((time.perf_counter() - start) * 1000 / len(texts), 3), 'ms')


if __name__ == '__main__':
    main()
