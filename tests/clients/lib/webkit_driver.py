"""WebKitGTK (Debian's gir1.2-webkit2-4.1, through python3-gi) as a tiny browser driver for the
client tests (lib/browsers.js starts it under xvfb-run). One JSON command a line on stdin, one
JSON answer a line on stdout, matched by "id":

  {"id": N, "op": "version"}                          -> {"id": N, "value": "2.50.6"}
  {"id": N, "op": "open", "url": U}                   -> {"id": N, "page": P}   once U has loaded
  {"id": N, "op": "eval", "page": P, "expression": E} -> {"id": N, "value": V}  E awaited, V as JSON
  {"id": N, "op": "close", "page": P}                 -> {"id": N}

A failure answers {"id": N, "error": "..."}. The driver ends when stdin ends.
"""
import json
import os
import sys
import threading

import gi

gi.require_version('Gtk', '3.0')
gi.require_version('WebKit2', '4.1')
from gi.repository import GLib, Gtk, WebKit2  # noqa: E402

# The answers get a descriptor of their own; whatever a library prints goes to stderr.
answers = os.fdopen(os.dup(1), 'w', encoding='utf-8')
os.dup2(2, 1)

pages = {}  # page id -> (window, view)
next_page = 0


def answer(request_id, **fields):
    answers.write(json.dumps({'id': request_id, **fields}) + '\n')
    answers.flush()


def answer_raw_value(request_id, value_json):
    answers.write('{"id": %d, "value": %s}\n' % (request_id, value_json))
    answers.flush()


def open_page(request_id, url):
    global next_page
    next_page += 1
    page = next_page
    # A real (mapped) window on the Xvfb display: a hidden page may have its timers throttled.
    window = Gtk.Window()
    window.set_default_size(800, 600)
    view = WebKit2.WebView()
    window.add(view)
    window.show_all()
    pages[page] = (window, view)
    state = {'done': False}

    def finish(**fields):
        if state['done']:
            return
        state['done'] = True
        view.disconnect(changed)
        view.disconnect(failed)
        if 'error' in fields:  # no page to answer with: none to keep
            pages.pop(page)
            GLib.idle_add(window.destroy)
        answer(request_id, **fields)

    def on_changed(_view, event):
        if event != WebKit2.LoadEvent.FINISHED:
            return
        if view.get_uri() == 'about:blank' and url != 'about:blank':  # e.g. a port WebKit blocks
            finish(error=f'loading {url}: the page stayed blank')
        else:
            finish(page=page)

    def on_failed(_view, _event, failing_uri, error):
        finish(error=f'loading {failing_uri}: {error.message}')
        return False

    changed = view.connect('load-changed', on_changed)
    failed = view.connect('load-failed', on_failed)
    view.load_uri(url)


def evaluate(request_id, page, expression):
    view = pages[page][1]

    def done(_view, result):
        try:
            value = view.call_async_javascript_function_finish(result)
        except GLib.Error as e:
            return answer(request_id, error=e.message)
        answer_raw_value(request_id, 'null' if value.is_undefined() else value.to_json(0))

    # The body of an async function: a returned promise is awaited.
    view.call_async_javascript_function(f'return ({expression});', -1, None, None, None, None, done)


def close_page(request_id, page):
    window, _view = pages.pop(page)
    window.destroy()
    answer(request_id)


def handle(line):
    request = json.loads(line)
    request_id = request['id']
    try:
        op = request['op']
        if op == 'version':
            answer(request_id, value='%d.%d.%d' % (WebKit2.get_major_version(), WebKit2.get_minor_version(),
                                                  WebKit2.get_micro_version()))
        elif op == 'open':
            open_page(request_id, request['url'])
        elif op == 'eval':
            evaluate(request_id, request['page'], request['expression'])
        elif op == 'close':
            close_page(request_id, request['page'])
        else:
            answer(request_id, error=f'unknown op {op}')
    except Exception as e:  # an answer, not a dead driver
        answer(request_id, error=f'{type(e).__name__}: {e}')
    return False  # a one-shot idle callback


def read_commands():
    for line in sys.stdin:
        if line.strip():
            GLib.idle_add(handle, line)
    GLib.idle_add(Gtk.main_quit)


threading.Thread(target=read_commands, daemon=True).start()
Gtk.main()
