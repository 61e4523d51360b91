#!/usr/bin/env python3
"""Benchmark of an OEM closure pack's rendering (`./ev bench`).

One pack of the issue's size: 20 site photos of about 3 MB each (JPEG of
noise, which JPEG cannot shrink: the worst case for size) with the usual
report rows, rendered as ClosurePack.submit renders it: the PDF by
weasyprint with the photos embedded through our URL fetcher, then the ZIP
of the PDF, the original files and the SHA-256 manifest.

The rendering reads no database (closure_render takes plain data): the
photos are made in memory once, outside the timings; reading them from
the filestore is not counted.

Figures:
  closure_pack_20x3mb       median wall time of PDF + ZIP over the runs
                            (target <= 5 s)
  closure_pack_pdf_20x3mb   of which the PDF
  closure_pack_photo_mb     the mean photo size
  closure_pack_pdf_mb / closure_pack_zip_mb   the sizes of the outputs

It prints lines `bench: <name> <value> <unit>` and never fails on time.

    .venv/bin/python tests/bench/bench_closure_pack.py [--runs 3]
"""
import argparse
import io
import random
import statistics
import time

from trytond.modules.ev_oem_report import closure_render

PHOTOS = 20
# About 3 MB at JPEG quality 90 for noise
WIDTH, HEIGHT = 2200, 1600


def bench(name, value, unit):
    print(f'bench: {name} {value} {unit}', flush=True)


def photo(seed):
    from PIL import Image
    pixels = random.Random(seed).randbytes(WIDTH * HEIGHT * 3)
    buffer = io.BytesIO()
    Image.frombytes('RGB', (WIDTH, HEIGHT), pixels).save(
        buffer, 'JPEG', quality=90)
    return buffer.getvalue()


def pack_data(files):
    "The data ClosurePack.get_render_data gives for such a pack"
    def item(position, label, type_, **values):
        return {'position': position, 'label': label, 'type': type_,
            'required': True, 'description': '', 'verdict': 'present',
            'verdict_string': "Present", 'reason': '', 'rows': [],
            'links': [], 'documents': [], 'entries': [], 'photos': [],
            **values}
    rows = [(f"Field {i}", f"Value {i}") for i in range(8)]
    return {
        'pack': {'number': 'CLP-000001', 'oem': "VoltDrive",
            'template': "VoltDrive handover pack", 'station': 'ST-000001',
            'customer': "Meera Iyer", 'job': 'INS-000001',
            'closed': '2026-12-07', 'site_address': "12 MG Road, Bengaluru"},
        'items': [
            item(1, "Site survey", 'survey_report', rows=rows),
            item(2, "Installation checklist", 'installation_report',
                rows=rows),
            item(3, "Site photos", 'photo', photos=[
                    {'file': name, 'name': name, 'caption': "Arjun"}
                    for name in sorted(files)]),
            item(4, "Customer updates", 'event_log', entries=[
                    {'date': '2026-12-0%d' % (i % 9 + 1), 'event': "Note",
                        'text': "Update %d" % i} for i in range(30)]),
            ],
        }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--runs', type=int, default=3,
        help="renderings of the pack (the median is printed)")
    # ./ev bench passes its arguments to every benchmark
    args, _ = parser.parse_known_args()

    files = {f'03-{i:02d}-site-{i:02d}.jpg': photo(i) for i in range(PHOTOS)}
    data = pack_data(files)
    # weasyprint's import and fonts once, as a server would have them
    closure_render.render_pdf({**data, 'items': []}, {})

    totals, pdfs = [], []
    for _ in range(max(1, args.runs)):
        start = time.perf_counter()
        pdf = closure_render.render_pdf(data, files)
        pdf_time = time.perf_counter() - start
        archive, _ = closure_render.build_zip(
            'CLP-000001.pdf', pdf, files, data['pack'])
        totals.append(time.perf_counter() - start)
        pdfs.append(pdf_time)
    mb = 1024 * 1024
    bench('closure_pack_photo_mb',
        round(sum(map(len, files.values())) / len(files) / mb, 2), 'MB')
    bench('closure_pack_pdf_mb', round(len(pdf) / mb, 1), 'MB')
    bench('closure_pack_zip_mb', round(len(archive) / mb, 1), 'MB')
    bench('closure_pack_pdf_20x3mb', round(statistics.median(pdfs), 3), 's')
    bench('closure_pack_20x3mb', round(statistics.median(totals), 3), 's')


if __name__ == '__main__':
    main()
