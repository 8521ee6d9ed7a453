"""gunicorn for eventplanner: `gunicorn -c deploy/gunicorn.conf.py` (systemd:
deploy/eventplanner.service). Before any worker starts, Django's system checks run: a release
without its static manifest or with broken settings refuses to start, saying why, instead
of answering every page with 500."""

import multiprocessing
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eventplanner.settings")

wsgi_app = "eventplanner.wsgi:application"
chdir = str(ROOT)
pythonpath = str(ROOT)
# nginx on the same machine proxies to this address (deploy/nginx-eventplanner.conf).
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# About two workers per core; each holds one persistent database connection.
workers = int(os.environ.get("GUNICORN_WORKERS", 2 * multiprocessing.cpu_count()))
# Recycle workers now and then, staggered, so a slow leak never takes all of them at once.
max_requests = 2000
max_requests_jitter = 200
# A request that takes longer is stuck; its worker is replaced.
timeout = 30
graceful_timeout = 30
accesslog = "-"
errorlog = "-"
# X-Forwarded-* are trusted from the local nginx only.
forwarded_allow_ips = "127.0.0.1"


def on_starting(server):
    import django
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    django.setup()
    try:
        call_command("check", "--deploy")
    except SystemCheckError as error:
        print(error, file=sys.stderr, flush=True)
        raise SystemExit(1) from None
