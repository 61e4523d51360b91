# This file is part of the EV operations suite.
"""The closure pack's files, from plain data: the PDF (HTML rendered by
weasyprint, the photos embedded) and the ZIP of the PDF, the original files
and a manifest of their SHA-256.

Nothing here reads the database: `render_pdf` and `build_zip` take what
ClosurePack.get_render_data gives (dicts, strings, bytes), so the template
never reaches a live record and the bench renders without a server."""
import hashlib
import io
import json
import mimetypes
import os
import zipfile

from genshi.template import MarkupTemplate

# Photos are referenced in the HTML as ev-file:<name> and served from memory
FILE_SCHEME = 'ev-file:'
# Already compressed: stored as they are in the ZIP (deflating them costs
# seconds and saves nothing)
STORED_SUFFIXES = {
    '.jpg', '.jpeg', '.png', '.gif', '.webp', '.heic', '.pdf', '.zip',
    '.mp4', '.mov'}

_template = None


def html_template():
    global _template
    if _template is None:
        path = os.path.join(os.path.dirname(__file__), 'closure_pack.html')
        with open(path, encoding='utf-8') as file:
            _template = MarkupTemplate(file.read(), filepath=path)
    return _template


def render_html(data):
    return html_template().generate(**data).render('html', doctype='html5')


def file_fetcher(files):
    """A weasyprint URL fetcher serving `files` ({name: bytes}) under
    ev-file:<name> and refusing every other URL (no network, no disk):
    Tryton's HTML-to-PDF path would drop the images"""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class FileFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            if not url.startswith(FILE_SCHEME):
                raise ValueError(f'Refused URL: {url}')
            name = url[len(FILE_SCHEME):]
            if name not in files:
                raise ValueError(f'Unknown file: {name}')
            mimetype = mimetypes.guess_type(name)[0] \
                or 'application/octet-stream'
            return URLFetcherResponse(
                url, body=files[name], headers={'Content-Type': mimetype})
    return FileFetcher(allowed_protocols=['ev-file'])


def render_pdf(data, files):
    "The PDF of the pack: `data` for the template, `files` its photos"
    import weasyprint
    html = weasyprint.HTML(
        string=render_html(data), base_url=FILE_SCHEME,
        url_fetcher=file_fetcher(files))
    return html.write_pdf()


def sha256(content):
    return hashlib.sha256(content).hexdigest()


def build_zip(pdf_name, pdf, files, pack_info):
    """The ZIP of the PDF and of the original `files` ({name: bytes}), with
    manifest.json giving each file's size and SHA-256; returns the ZIP's
    bytes and the manifest"""
    entries = [(pdf_name, pdf)] + sorted(files.items())
    manifest = {
        'pack': pack_info,
        'files': [{
                'name': name,
                'size': len(content),
                'sha256': sha256(content),
                } for name, content in entries],
        }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as archive:
        for name, content in entries:
            suffix = os.path.splitext(name)[1].lower()
            compression = (zipfile.ZIP_STORED if suffix in STORED_SUFFIXES
                else zipfile.ZIP_DEFLATED)
            archive.writestr(name, content, compress_type=compression)
        archive.writestr('manifest.json',
            json.dumps(manifest, indent=2, ensure_ascii=False),
            compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue(), manifest
