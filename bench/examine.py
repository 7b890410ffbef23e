"""Examination time per request, and its share of the intake cost.

    .venv/bin/python bench/examine.py [--count 100]

Builds COUNT requests, each with a ~300 KB scanned form (PDF), a filled
Excel form and a ~200 KB scanned acta (PDF), drops them in a Maildir, runs
intake (store, ticket, ack) for all, then examines each ticket through the
real worker process and prints p50/p95/max of the examination time and the
share of the total it represents. Nothing is sent (file outbox).
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpdesk import config as config_mod  # noqa: E402
from helpdesk.daemon import Daemon  # noqa: E402
from helpdesk.demo import GOBERNACION, sample_form_xlsx  # noqa: E402
from helpdesk.examination import ticket as examination  # noqa: E402
from helpdesk.store import Store  # noqa: E402
from tests import mails  # noqa: E402
from tests.conftest import embedded_sections, write_config  # noqa: E402


def noisy_scan(title: str, target_kb: int) -> bytes:
    """A scanned page: grey noise (like paper grain) makes JPEG sizes realistic."""
    from PIL import Image, ImageDraw

    size = (1240, 1754)  # A4 at 150 dpi
    quality = 60
    noise = Image.effect_noise(size, 12).point(lambda v: 200 + v // 8)
    draw = ImageDraw.Draw(noise)
    for n in range(40):
        draw.text((100, 120 + 35 * n), f"{title} — línea {n} del documento escaneado", fill=30)
    while True:
        out = io.BytesIO()
        noise.save(out, format="PDF", resolution=150.0, quality=quality)
        if out.tell() >= target_kb * 1024 or quality >= 95:
            return out.getvalue()
        quality += 5


def build_requests(count: int) -> list[bytes]:
    form_scan = noisy_scan("FORMATO DE SOLICITUD", 300)
    acta = noisy_scan("ACTA DE POSESIÓN", 200)
    excel = sample_form_xlsx(GOBERNACION)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return [
        mails.request(sender=f"u{n}@gobernacion-ejemplo.gov.co", subject=f"Solicitud {n}", attachments=[
            ("formato_firmado.pdf", form_scan, "application/pdf"),
            ("formato.xlsx", excel, xlsx),
            ("acta_posesion.pdf", acta, "application/pdf"),
        ])
        for n in range(count)
    ]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    args = parser.parse_args()
    requests = build_requests(args.count)
    print(f"{args.count} requests of {statistics.mean(len(r) for r in requests) / 1024:.0f} KB each")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = config_mod.load(write_config(root / "config.toml", embedded_sections()))
        store = Store(config.database_path, config.raw_dir)
        daemon = Daemon(config, store)
        inbox = root / "inbox"
        for sub in ("new", "cur", "tmp"):
            (inbox / sub).mkdir(parents=True, exist_ok=True)
        for n, raw in enumerate(requests):
            (inbox / "new" / f"{n:06d}.bench").write_bytes(raw)

        started = time.perf_counter()
        for incoming in daemon.source.fetch():
            daemon.handle(incoming)
        intake_seconds = time.perf_counter() - started

        daemon.worker.examine("warm.pdf", b"%PDF-1.4\n")  # start the worker outside the timing
        times = []
        states = {}
        for ticket_id in examination.pending(store):
            t0 = time.perf_counter()
            kind = examination.examine_ticket(store, config, daemon.rules, daemon.worker, daemon.renderer, ticket_id)
            times.append(time.perf_counter() - t0)
            states[kind] = states.get(kind, 0) + 1
        daemon.close()
        total_exam = sum(times)
        print(f"intake (store, ticket, ack) : {intake_seconds:.2f} s, {args.count / intake_seconds:.1f} msg/s")
        print(f"examination per request     : p50 {percentile(times, 50) * 1000:.0f} ms, "
              f"p95 {percentile(times, 95) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms")
        print(f"examination share of total  : {100 * total_exam / (total_exam + intake_seconds):.0f} %")
        print(f"throughput with examination : {args.count / (total_exam + intake_seconds):.1f} msg/s")
        print(f"verdicts                    : {states}")
        if states != {"accepted": args.count}:
            sys.exit("unexpected verdicts: every bench request is complete and valid")


if __name__ == "__main__":
    main()
