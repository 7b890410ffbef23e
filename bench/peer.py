"""helpdesk against django-helpdesk, side by side, on the same backlog.

    .venv/bin/python bench/peer.py [--count 200] [--rounds 2] [--small]

The peer is django-helpdesk 2.6.1 (the anchor of the brief), installed by
this script in its own virtualenv (``bench/.peer-venv``, pip, once) with a
minimal Django project on SQLite: one queue polling the same private
Dovecot over IMAP, outgoing mail written to files by Django's file email
backend. helpdesk runs with ``[smtp] transport = "file"`` likewise, so
neither pays for SMTP.

Each round, COUNT identical requests (bench/make_fixtures.py: the scanned
signed form, the Excel form, the scanned acta) are APPENDed to INBOX
(not timed), then ``manage.py get_email`` runs and is timed; the INBOX is
filled again and ``helpdesk run --once`` runs and is timed. The two
alternate, round after round, so the machine's noise falls on both.

What each one does in that time differs, and the figures say so:
django-helpdesk stores each ticket and its attachments and writes one
auto-reply; helpdesk stores the raw message, opens the ticket, writes the
ack, examines the three documents in its worker and writes the verdict.
Printed per round: messages per second for each, the ratio, and peak RSS
(the kernel's high-water mark of each process and its children).

What is known of django-helpdesk 2.6.1 and handled here: its default
HELPDESK_VALID_EXTENSIONS drops .xlsx (allowed, so both keep the same
files); a queue without email_box_last_check is skipped once unless
logging_dir is unset (left unset); get_email exits 0 even when the queue
failed (the ticket count is checked instead).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
import make_fixtures  # noqa: E402

PEER_VERSION = "2.6.1"
PEER_VENV = Path(__file__).resolve().parent / ".peer-venv"

SETTINGS = """
from pathlib import Path
BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "bench-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = [
    "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
    "django.contrib.messages", "django.contrib.staticfiles", "django.contrib.sites", "django.contrib.humanize",
    "rest_framework", "helpdesk",
]
MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware",
              "django.contrib.auth.middleware.AuthenticationMiddleware",
              "django.contrib.messages.middleware.MessageMiddleware"]
# Teams without pinax-teams (django-helpdesk's documented alternative).
HELPDESK_TEAMS_MODEL = "auth.Group"
HELPDESK_TEAMS_MIGRATION_DEPENDENCIES = [("auth", "0012_alter_user_first_name_max_length")]
HELPDESK_KBITEM_TEAM_GETTER = lambda _: None
ROOT_URLCONF = "peer.urls"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [], "APP_DIRS": True,
              "OPTIONS": {"context_processors": ["django.template.context_processors.request",
                                                 "django.contrib.auth.context_processors.auth",
                                                 "django.contrib.messages.context_processors.messages"]}}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "peer.db"}}
SITE_ID = 1
USE_TZ = True
STATIC_URL = "/static/"
MEDIA_ROOT = BASE_DIR / "media"
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = BASE_DIR / "outbox"
DEFAULT_FROM_EMAIL = "soporteccc@entidad.gov.co"
HELPDESK_VALID_EXTENSIONS = [".txt", ".pdf", ".xlsx", ".xls", ".jpg", ".jpeg", ".png", ".zip"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
LOGGING = {"version": 1, "disable_existing_loggers": True}
"""

URLS = """
from django.urls import include, path
urlpatterns = [path("helpdesk/", include("helpdesk.urls", namespace="helpdesk"))]
"""

QUEUE = """
from helpdesk.models import Queue
Queue.objects.all().delete()
Queue.objects.create(title="Soporte", slug="soporte", email_address="{user}", allow_email_submission=True,
                     email_box_type="imap", email_box_host="{host}", email_box_port={port}, email_box_ssl=False,
                     email_box_user="{user}", email_box_pass="{password}", email_box_imap_folder="INBOX",
                     email_box_interval=0, logging_type="none", new_ticket_cc="", updated_ticket_cc="")
"""


def peer_python() -> str:
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        print(f"installing django-helpdesk {PEER_VERSION} into {PEER_VENV} (once)...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(PEER_VENV / "bin" / "pip"), "install", "-q", f"django-helpdesk=={PEER_VERSION}"],
                       check=True)
    return str(python)


def setup_peer(workdir: Path, dovecot) -> Path:
    project = workdir / "peer"
    (project / "peer").mkdir(parents=True)
    (project / "peer" / "__init__.py").write_text("")
    (project / "peer" / "settings.py").write_text(SETTINGS)
    (project / "peer" / "urls.py").write_text(URLS)
    (project / "outbox").mkdir()
    manage(project, "migrate", "--noinput")
    manage(project, "shell", "-c", QUEUE.format(user=harness.USER, host=dovecot.host, port=dovecot.port,
                                                password=harness.PASSWORD))
    return project


def manage(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "peer.settings", "PYTHONPATH": str(project)}
    return subprocess.run([peer_python(), "-m", "django", *args], cwd=project, env=env, check=True,
                          capture_output=True, text=True)


def timed(command: list[str], cwd: Path, env: dict) -> tuple[float, float, float]:
    """(seconds, peak RSS in MB of the process and its children, wall-clock start)."""
    log = cwd / "run.log"  # a file, not a pipe: a pipe nobody reads blocks the process once full
    with open(log, "ab") as out:
        started, wall = time.perf_counter(), time.time()
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{command[:4]} failed: {log.read_text(errors='replace')[-2000:]}")
    return seconds, usage.ru_maxrss / 1024, wall


def last_written(files: list[Path], since: float) -> float:
    """Seconds from ``since`` to the newest of ``files`` (their mtimes):
    when the last acknowledgement was written."""
    return max(f.stat().st_mtime for f in files) - since


def fill(dovecot, count: int, small: bool) -> None:
    with dovecot.client(harness.USER) as client:
        for folder in ("INBOX",):
            client.select_folder(folder)
            uids = client.search("ALL")
            if uids:
                client.delete_messages(uids)
                client.expunge()
        for n in range(count):
            client.append("INBOX", make_fixtures.request_bytes(n, small=small))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--small", action="store_true", help="~70 KB requests instead of ~685 KB")
    args = parser.parse_args()
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    workdir = Path(tempfile.mkdtemp(prefix="helpdesk-peer-"))
    try:
        with harness.servers(workdir) as (dovecot, smtp):
            project = setup_peer(workdir, dovecot)
            peer_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "peer.settings", "PYTHONPATH": str(project)}
            print(f"{args.count} requests of {'~70' if args.small else '~685'} KB per run; "
                  f"helpdesk {harness.describe_source()}; django-helpdesk {PEER_VERSION}")
            for round_number in range(1, args.rounds + 1):
                fill(dovecot, args.count, args.small)
                outbox = project / "peer" / "outbox"  # EMAIL_FILE_PATH: BASE_DIR is the settings' folder
                for old in outbox.glob("*"):
                    old.unlink()
                peer_seconds, peer_rss, peer_start = timed([peer_python(), "-m", "django", "get_email", "--quiet"],
                                                           project, peer_env)
                # Its auto-reply is its acknowledgement: one file per email.
                peer_acks = last_written(list(outbox.glob("*")), peer_start)
                with sqlite3.connect(project / "peer" / "peer.db") as db:
                    peer_tickets = db.execute("SELECT count(*) FROM helpdesk_ticket").fetchone()[0]
                fill(dovecot, args.count, args.small)
                ours = workdir / f"ours{round_number}"
                ours.mkdir()
                config = harness.write_config(ours / "config.toml", dovecot, smtp)
                text = config.read_text().replace('transport = "smtp"', 'transport = "file"\npath = "outbox"')
                config.write_text(text)
                our_seconds, our_rss, our_start = timed(harness.helpdesk_command(config, "run", "--once"), ours,
                                                        harness.helpdesk_env())
                our_acks = last_written(list((ours / "outbox").glob("*-ack.eml")), our_start)
                with sqlite3.connect(ours / "helpdesk.db") as db:
                    our_tickets = db.execute("SELECT count(*) FROM tickets").fetchone()[0]
                    examined = db.execute("SELECT count(*) FROM tickets WHERE examine_pending = 0").fetchone()[0]
                peer_rate, our_rate = args.count / peer_seconds, args.count / our_seconds
                peer_ack_rate, our_ack_rate = args.count / peer_acks, args.count / our_acks
                print(f"round {round_number}:\n"
                      f"  django-helpdesk get_email: {peer_seconds:6.1f} s = {peer_rate:5.1f} msg/s, last auto-reply "
                      f"after {peer_acks:.1f} s = {peer_ack_rate:5.1f} acks/s (peak RSS {peer_rss:.0f} MB, "
                      f"{peer_tickets} tickets so far)\n"
                      f"  helpdesk run --once:       {our_seconds:6.1f} s = {our_rate:5.1f} msg/s, examination and "
                      f"verdicts included; last ack after {our_acks:.1f} s = {our_ack_rate:5.1f} acks/s "
                      f"(peak RSS {our_rss:.0f} MB, {our_tickets} tickets, {examined} examined)\n"
                      f"  ratio: acks {our_ack_rate / peer_ack_rate:.2f}x, whole run {our_rate / peer_rate:.2f}x",
                      flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
