"""Serve ``flask_demo`` with werkzeug's development server, hot reloaded by hotmod.

No werkzeug reloader and no restarts: ``hotmod.wsgi`` applies pending changes before each
request and calls the ``create_app()`` factory again after a reload of its package::

    $ cd examples/flask_app && python serve.py --port 5000
    serving http://127.0.0.1:5000 (Ctrl-C stops)
    $ curl http://127.0.0.1:5000/
    Hello from Flask!

Edit the text in ``flask_demo/views.py``, save, and ``curl`` again: the new text is served.
``--port 0`` picks a free port (the line printed first tells which).
"""

from __future__ import annotations

import argparse
import contextlib
import logging

from werkzeug.serving import make_server

import hotmod


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve flask_demo with hotmod.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")

    app = hotmod.wsgi("flask_demo:create_app()")
    server = make_server(args.host, args.port, app, threaded=True)
    print(f"serving http://{args.host}:{server.port} (Ctrl-C stops)", flush=True)
    try:
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C stops the server
            server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
