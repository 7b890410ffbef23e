"""Issue 22, items 6 and 8, and CONTRACT 10 and 13: the self-service page
tells nobody which accounts exist (in its masks or its time), slows a
stranger without locking the owner out, counts IPv6 clients by /64, caps
the whole page with global budgets, bounds what a dead link writes, keeps
its rows only as long as the retention policy says, tells every password
change, and refuses every POST without its CSRF token.

Over real HTTP: ``helpdesk web``'s application served by waitress, the
lookup and the SMS as programs, a command backend that records what it
applies, the emails read from the file outbox the daemon writes."""

from __future__ import annotations

import collections
import json
import logging
import random
import re
import sys
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest

from helpdesk.operations import metrics, retention
from helpdesk.store import iso, now
from helpdesk.web import guard, recovery

from .conftest import Embedded, run_helpdesk
from .test_staff import pending
from .web_server import Browser, WebServer, any_port, links_in, web_sections

GOOD = "Montaña-Azul-73"
OWNER = "juan.perez.leon1@gmail.com"


@contextmanager
def serving(tmp_path, sms_sleep: float = 0.0, **web):
    """A helpdesk with delivery by link, self-service by a lookup program
    (jperez is the one account) and an SMS program (sleeping ``sms_sleep``,
    as a real gateway takes its time); yields (env, base, server)."""
    log = tmp_path / "aplicadas.jsonl"
    program = tmp_path / "reset.py"
    program.write_text(f"import sys, json\nopen({str(log)!r}, 'a').write(json.dumps(sys.stdin.read().splitlines())"
                       " + '\\n')\n", encoding="utf-8")
    lookup = tmp_path / "lookup.py"
    lookup.write_text("import sys, json\nwho = sys.stdin.read().strip()\n"
                      "if who != 'jperez': sys.exit(1)\n"
                      "print(json.dumps({'account': 'jperez@alcaldia-prueba.gov.co', "
                      f"'email': {OWNER!r}, 'phone': '+57 300 555 9129'}}))\n", encoding="utf-8")
    sms = tmp_path / "sms.py"
    sms.write_text(f"import sys, time\ntime.sleep({sms_sleep})\n"
                   f"open({str(tmp_path / 'sms.txt')!r}, 'a').write(sys.stdin.read())\n", encoding="utf-8")
    port = any_port()
    env = Embedded(tmp_path / "h", reset={"backend": "command", "command": [sys.executable, str(program)],
                                          "delivery": "link"},
                   web={**web_sections(port), **web},
                   selfservice={"enabled": True, "lookup": "command", "command": [sys.executable, str(lookup)],
                                "sms_command": [sys.executable, str(sms)]})
    env.applied = lambda: [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    try:
        with WebServer(env.config, port) as server:
            yield env, f"http://127.0.0.1:{port}", server
    finally:
        env.daemon.close()
        env.store.close()


def choose(base: str, identifier: str, client: str | None = None) -> tuple[Browser, object]:
    """A fresh browser (from ``client``, as the trusted proxy names it) that
    looked ``identifier`` up; (browser, the choice page)."""
    browser = Browser()
    headers = {"X-Forwarded-For": client} if client else {}
    form = browser.get(f"{base}/recuperar", headers=headers)
    return browser, browser.post(f"{base}/recuperar", {"identifier": identifier, "csrf": form.hidden("csrf")},
                                 headers=headers)


def ask(browser: Browser, base: str, chosen, means: str = "email", client: str | None = None):
    headers = {"X-Forwarded-For": client} if client else {}
    return browser.post(f"{base}/recuperar/enviar", {"means": means, "csrf": chosen.hidden("csrf"),
                                                     "step": chosen.hidden("step")}, headers=headers)


def emails(env: Embedded, kind: str) -> list:
    env.run_once()  # the daemon delivers what the pages queued
    return [m for m in env.sent() if m["X-Helpdesk-Kind"] == kind]


def sms_codes(tmp_path) -> list[str]:
    path = tmp_path / "sms.txt"
    return re.findall(r"\b(\d{6})\b", path.read_text()) if path.exists() else []


# -- 1. decoys ---------------------------------------------------------------

# Registered addresses of varied shapes, as a directory holds them: webmail
# and the entity's own domains, names with dots, initials, underscores,
# years and short numbers, office mailboxes, tails shorter than four.
REAL = """
juan.perez.leon1@gmail.com mlopez@entidad.gov.co contactenos@alcaldia-prueba.gov.co despacho@alcaldia-prueba.gov.co
andrea.gomez87@hotmail.com carlosr_2010@yahoo.com lina.m.ortiz@gmail.com jcastro@entidad.gov.co
tesoreria@alcaldia-prueba.gov.co dianamarcela.rojas@gmail.com pipe.suarez@outlook.com sandrav1975@hotmail.com
ana@entidad.gov.co jm@gmail.com luisfer.gutierrez@gmail.com hernan.duque.m@gmail.com yesi.2398@hotmail.com
secretariageneral@alcaldia-prueba.gov.co oscar.vargas@entidad.gov.co paola-rincon@gmail.com jhonedwin85@gmail.com
mariafernanda.arias@hotmail.com cgarcia@alcaldia-prueba.gov.co javi.mejia12@gmail.com l.restrepo@entidad.gov.co
nataliaquintero@gmail.com fabianosorio1990@hotmail.com gloria.beltran.c@yahoo.es camilo.pineda@gmail.com
planeacion@alcaldia-prueba.gov.co mcortes@entidad.gov.co juli.zapata@gmail.com esteban_correa@hotmail.com
vale.silva03@gmail.com wilson.mora@outlook.es adriana.leon@entidad.gov.co jose.ruiz.pena@gmail.com
liliana1968@hotmail.com ricardoacosta@gmail.com claudia.medina@alcaldia-prueba.gov.co ospina.diego@gmail.com
mauro.cardenas7@gmail.com johana.parra@hotmail.com gobierno@alcaldia-prueba.gov.co edwin.salazar@entidad.gov.co
katerine.rey@gmail.com dperez@alcaldia-prueba.gov.co leidy_benavides@hotmail.com nelson.valencia@gmail.com
patty.munoz@yahoo.com fer.torres22@gmail.com sistemas@entidad.gov.co hacienda@alcaldia-prueba.gov.co
monica.alvarez@gmail.com jorge.romero.2@gmail.com viviana.castillo@hotmail.com ceciliagil@gmail.com
alejo.diaz@live.com mjimenez@entidad.gov.co catalina.hdz@gmail.com yolanda.moreno56@hotmail.com
juridica@alcaldia-prueba.gov.co sebastian.ramirez@gmail.com angelica.cruz@outlook.com felipe_gomez@gmail.com
daniela.lopez.r@gmail.com jperez@entidad.gov.co omar.sanchez@gmail.com personeria@alcaldia-prueba.gov.co
laura.martinez94@gmail.com cesar.rodriguez@hotmail.com pao.garcia@gmail.com concejo@alcaldia-prueba.gov.co
julian.arias@entidad.gov.co marthaluciar@gmail.com hugo.ortiz1@hotmail.com nidia.vargas@gmail.com
a.quintero@alcaldia-prueba.gov.co luz.mery.pineda@gmail.com b.sanchez.viejo@entidad.gov.co stella.rojas@yahoo.com
gustavo.leon88@gmail.com alcaldia@alcaldia-prueba.gov.co ivan.torres@gmail.com dora.mejia@hotmail.com
rosa.cardenas61@gmail.com frank.osorio@outlook.com contratacion@entidad.gov.co mireya.suarez@gmail.com
jhon.beltran@hotmail.com amparo.gil@gmail.com w.castro@alcaldia-prueba.gov.co tatiana.zapata@gmail.com
edgar.correa@yahoo.com lucia.parra2001@gmail.com archivo@entidad.gov.co raul.medina@gmail.com
marcela.restrepo@hotmail.com gabriel.duque@gmail.com tmora@entidad.gov.co karen_silva@gmail.com
salud@alcaldia-prueba.gov.co german.acosta@gmail.com elsa.ruiz@hotmail.es nancy.salazar@gmail.com
cristian.rincon99@gmail.com pilar.benavides@gmail.com educacion@alcaldia-prueba.gov.co yeison.valencia@hotmail.com
milena.pena@gmail.com alberto.cortes@entidad.gov.co sofia.gomez@icloud.com hector.munoz@gmail.com
andres1984@gmail.com mariap23@hotmail.com lgarcia77@gmail.com dani.ortiz2@gmail.com jp1990@yahoo.com
carolina.m90@hotmail.com santiago.ruiz05@gmail.com lorena123@gmail.com jgomez2@entidad.gov.co diego.m.1979@gmail.com
""".split()
ENTITY = ("alcaldia-prueba.gov.co", "entidad.gov.co")
WEBMAIL = {"gmail.com", "hotmail.com", "outlook.com", "yahoo.com", "yahoo.es", "hotmail.es", "outlook.es", "live.com",
           "icloud.com"}
# A classifier that does better than chance by more than this tells decoys from real masks.
MARGIN = 0.10


def mask_features(mask: str) -> tuple:
    """What a mask shows: the visible tail's length, digits and punctuation
    (dots, _ and -), and the domain (a webmail's name, the entity's, other)."""
    tail, _, domain = mask.removeprefix("*****").partition("@")
    return (("length", len(tail)), ("digits", sum(c.isdigit() for c in tail)),
            ("punctuation", sum(not c.isalnum() for c in tail)),
            ("domain", domain if domain in WEBMAIL else "entity" if domain in ENTITY else "other"))


def naive_bayes_balanced_accuracy(real: list[str], decoys: list[str], folds: int = 5) -> float:
    """5-fold cross-validated naive Bayes on ``mask_features``, equal priors;
    the mean of the two classes' recalls (0.5 is chance)."""
    data = [(mask_features(m), 0) for m in real] + [(mask_features(m), 1) for m in decoys]
    random.Random(7).shuffle(data)
    right, total = [0, 0], [0, 0]
    for fold in range(folds):
        train = [d for n, d in enumerate(data) if n % folds != fold]
        counts, sizes = [collections.Counter(), collections.Counter()], [0, 0]
        for features, label in train:
            sizes[label] += 1
            counts[label].update(features)
        for features, label in data[fold::folds]:
            scores = []
            for cls in (0, 1):
                score = 1.0
                for feature in features:
                    score *= (counts[cls][feature] + 1) / (sizes[cls] + 5)  # Laplace smoothing
                scores.append(score)
            total[label] += 1
            right[label] += int(scores[1] > scores[0]) == label
    return (right[0] / total[0] + right[1] / total[1]) / 2


def test_decoy_masks_cannot_be_told_from_real_ones_by_a_simple_classifier():
    key = b"k" * 32
    real = [recovery.mask_email(address) for address in REAL]
    decoys = [recovery.decoy(key, f"persona{n}", ENTITY)[0] for n in range(1000)]
    accuracy = naive_bayes_balanced_accuracy(real, decoys)
    # Measured: 0.49 (the four-letter decoys of before: 0.71).
    assert accuracy < 0.5 + MARGIN, f"decoys told apart with balanced accuracy {accuracy:.2f}"
    # Not one fixed shape: digits, dots and the entity's domains all appear.
    assert any(re.search(r"\d", d) for d in decoys) and any("." in d.split("@")[0] for d in decoys)
    assert {d.split("@")[1] for d in decoys} >= {"gmail.com", "hotmail.com", *ENTITY}


def test_a_decoy_is_the_same_every_time_and_its_phone_digits_are_uniform():
    key = b"k" * 32
    assert recovery.decoy(key, "Nadie", ENTITY) == recovery.decoy(key, "NADIE", ENTITY)
    assert recovery.decoy(key, "nadie", ENTITY) != recovery.decoy(b"o" * 32, "nadie", ENTITY)  # keyed
    digits = collections.Counter("".join(recovery.decoy(key, f"p{n}", ENTITY)[1][5:] for n in range(2500)))
    # A real phone's last four digits are uniform; hex digits taken mod 10 made 0-5 twice as likely.
    assert all(850 <= digits[str(d)] <= 1150 for d in range(10)), digits


# -- 2. the same time whether or not the account exists ---------------------

def test_send_code_answers_before_the_sms_program_runs(tmp_path):
    with serving(tmp_path, sms_sleep=2.0) as (env, base, server):
        times = {}
        for who in ("jperez", "nadie"):
            browser, chosen = choose(base, who)
            started = time.perf_counter()
            page = ask(browser, base, chosen, "sms")
            times[who] = time.perf_counter() - started
            assert page.status == 200 and 'name="code"' in page.text
        # The SMS program takes two seconds; the answer does not wait for it (before: 2 s more for
        # the real account). The 5 ms target at the median is bench/web.py's, over many runs.
        assert times["jperez"] < 1.0, times
        assert abs(times["jperez"] - times["nadie"]) < 0.5, times
        server.drain()
        assert len(sms_codes(tmp_path)) == 1  # sent, after the answer, to the real account only


# -- 3. limits that slow a stranger without locking the owner out -----------

def test_an_ipv6_client_is_counted_by_its_64():
    assert guard.limit_key("2001:db8:1:2::5") == guard.limit_key("2001:db8:1:2:ffff:1:2:3") == "2001:db8:1:2::/64"
    assert guard.limit_key("2001:db8:1:3::5") != guard.limit_key("2001:db8:1:2::5")
    assert guard.limit_key("::ffff:203.0.113.7") == "203.0.113.7" and guard.limit_key("203.0.113.7") == "203.0.113.7"


def test_forty_lookups_from_one_ipv6_64_are_limited(tmp_path):
    with serving(tmp_path) as (env, base, server):
        statuses = [choose(base, f"nadie{n}", client=f"2001:db8:aa:bb:{n:x}::{n + 1:x}")[1].status for n in range(40)]
        assert statuses == [200] * 20 + [429] * 20  # [web] max_requests_per_client
        # Another /64 is another client.
        assert choose(base, "nadie", client="2001:db8:aa:bc::1")[1].status == 200


def test_the_owner_is_not_locked_out_by_the_lookups_and_sends_of_others(tmp_path):
    with serving(tmp_path) as (env, base, server):
        for n in range(8):  # strangers, each from its own address, look the owner up and ask for links
            browser, chosen = choose(base, "jperez", client=f"198.51.100.{n + 1}")
            assert chosen.status == 200 and "*****eon1@gmail.com" in chosen.text
            assert ask(browser, base, chosen, client=f"198.51.100.{n + 1}").status == 200
        browser, chosen = choose(base, "jperez", client="203.0.113.50")
        assert chosen.status == 200
        assert ask(browser, base, chosen, client="203.0.113.50").status == 200
        server.drain()
        # The sends went to the owner's registered address, never replaced one another's link, and any works.
        [url] = links_in(emails(env, "selfservice_link")[0].get_body(("plain",)).get_content(), base)
        assert Browser().post(url, {"password": GOOD, "confirm": GOOD}).status == 200
        assert env.applied() == [["jperez@alcaldia-prueba.gov.co", GOOD]]


def test_a_new_send_leaves_the_owners_link_valid(tmp_path):
    with serving(tmp_path, send_spacing_seconds=0) as (env, base, server):
        browser, chosen = choose(base, "jperez")
        ask(browser, base, chosen)
        server.drain()
        [owners] = emails(env, "selfservice_link")
        owners_url = links_in(owners.get_body(("plain",)).get_content(), base)[0]
        stranger, theirs = choose(base, "jperez", client="198.51.100.9")
        for _ in range(2):
            assert ask(stranger, base, theirs, client="198.51.100.9").status == 200
        server.drain()
        assert len(emails(env, "selfservice_link")) == 3
        # The fourth send of the hour for this identifier is slowed: nothing more is sent.
        assert "no enviamos otro" in ask(stranger, base, theirs, client="198.51.100.9").text
        server.drain()
        assert len(emails(env, "selfservice_link")) == 3
        assert Browser().get(owners_url).status == 200
        assert Browser().post(owners_url, {"password": GOOD, "confirm": GOOD}).status == 200
        # Once the password is set, the other links of the account are done.
        others = [links_in(m.get_body(("plain",)).get_content(), base)[0] for m in emails(env, "selfservice_link")]
        assert [Browser().get(url).status for url in others if url != owners_url] == [410, 410]


def test_a_strangers_codes_and_guesses_never_spend_the_owners_code(tmp_path):
    with serving(tmp_path, send_spacing_seconds=0) as (env, base, server):
        owner, chosen = choose(base, "jperez")
        owners_page = ask(owner, base, chosen, "sms")
        server.drain()
        [owners_code] = sms_codes(tmp_path)
        stranger, theirs = choose(base, "jperez", client="198.51.100.9")
        strangers_page = ask(stranger, base, theirs, "sms", client="198.51.100.9")
        server.drain()
        assert len(sms_codes(tmp_path)) == 2  # the stranger's send went to the owner's phone
        for guess in range(6):  # wrong guesses, and the owner's own code, from the stranger's step
            refused = stranger.post(f"{base}/recuperar/codigo", {
                "code": owners_code if guess == 5 else f"{guess:06d}", "csrf": strangers_page.hidden("csrf"),
                "step": strangers_page.hidden("step")}, headers={"X-Forwarded-For": "198.51.100.9"})
            assert "El código no es válido" in refused.text
        link_page = owner.post(f"{base}/recuperar/codigo", {"code": owners_code, "csrf": owners_page.hidden("csrf"),
                                                            "step": owners_page.hidden("step")})
        assert link_page.status == 200 and "jperez@alcaldia-prueba.gov.co" in link_page.text


def test_a_spent_global_budget_refuses_everybody_logs_once_and_counts(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="helpdesk.web.budgets")
    with serving(tmp_path, lookups_per_hour=3, sends_per_hour=1) as (env, base, server):
        answers = [choose(base, f"nadie{n}", client=f"198.51.100.{n + 1}")[1] for n in range(5)]
        assert [a.status for a in answers] == [200, 200, 200, 503, 503]
        assert "demasiadas solicitudes" in answers[3].text and answers[3].headers["Retry-After"] == "3600"
        warned = [r for r in caplog.records if "budget reached" in r.getMessage()]
        assert len(warned) == 1 and warned[0].levelno == logging.WARNING and "lookups_per_hour" in warned[0].getMessage()
        text = metrics.render(env.store)
        assert 'helpdesk_web_budget_refusals_total{budget="lookup"} 2' in text
        assert 'helpdesk_web_budget_exhausted{budget="lookup"} 1' in text
        assert 'helpdesk_web_budget_exhausted{budget="send"} 0' in text


def test_a_spent_send_budget_sends_nothing_more(tmp_path):
    with serving(tmp_path, sends_per_hour=1) as (env, base, server):
        browser, chosen = choose(base, "nadie", client="198.51.100.1")
        assert ask(browser, base, chosen, client="198.51.100.1").status == 200  # the hour's one send
        browser, chosen = choose(base, "jperez", client="198.51.100.2")
        refused = ask(browser, base, chosen, client="198.51.100.2")
        assert refused.status == 503
        server.drain()
        assert emails(env, "selfservice_link") == []
        assert env.store.one("SELECT refused FROM web_budgets WHERE budget = 'send'")[0] == 1


# -- 4. a dead link, and retention -------------------------------------------

def test_a_dead_link_is_rate_limited_per_client_and_writes_one_line_past_the_limit(tmp_path):
    with serving(tmp_path, max_link_requests_per_client=10) as (env, base, server):
        browser, chosen = choose(base, "jperez")
        ask(browser, base, chosen)
        server.drain()
        [url] = links_in(emails(env, "selfservice_link")[0].get_body(("plain",)).get_content(), base)
        assert Browser().post(url, {"password": GOOD, "confirm": GOOD}).status == 200  # now dead
        before = env.store.one("SELECT count(*) FROM web_events")[0]
        statuses = [Browser().get(url).status for _ in range(30)]
        assert statuses == [410] * 9 + [429] * 21  # the post above was the client's first of ten
        written = env.store.one("SELECT count(*) FROM web_events")[0] - before
        assert written == 9 + 1  # nine "opened_used", then one "rate_limited" for the whole flood
        # Another client still opens links.
        assert Browser().get(url, headers={"X-Forwarded-For": "203.0.113.4"}).status == 410


def test_web_rows_are_under_the_retention_policy(tmp_path):
    env = Embedded(tmp_path / "h")
    try:
        radicado = pending(env, tmp_path)
        (ticket_id,) = env.store.one("SELECT id FROM tickets WHERE radicado = ?", (radicado,))
        old, fresh = iso(now() - timedelta(days=200)), iso(now() - timedelta(hours=2))
        with env.store.transaction() as conn:
            for at, ticket in ((old, None), (old, None), (old, ticket_id), (fresh, None)):
                conn.execute("INSERT INTO web_events(event, ticket_id, identifier, client, at) "
                             "VALUES ('lookup', ?, 'jperez', '203.0.113.7', ?)", (ticket, at))
            for at in (old, iso(now() - timedelta(days=2)), iso(now() - timedelta(minutes=5))):
                conn.execute("INSERT INTO web_attempts(key, at) VALUES ('id-client:203.0.113.7', ?)", (at,))
            for expires in (iso(now() - timedelta(days=2)), iso(now() + timedelta(minutes=5))):
                conn.execute("INSERT INTO recovery_codes(identifier, account, code_hash, created_at, expires_at) "
                             "VALUES ('jperez', 'j', 'h', ?, ?)", (expires, expires))
        counts = lambda: [env.store.one(f"SELECT count(*) FROM {t}")[0]  # noqa: E731
                          for t in ("web_events", "web_attempts", "recovery_codes")]
        assert counts() == [4, 3, 2]
        dry = run_helpdesk("--config", env.config_path, "purge", "--dry-run", timeout=60)
        assert dry.returncode == 0, dry.stderr
        assert ("Página web (helpdesk web): Se eliminarían 2 eventos sin solicitud (más de 180 días), 2 intentos "
                "contados por los límites (más de un día), 1 código SMS y 0 direcciones de aviso vencidos hace más "
                "de un día.") in dry.stdout.splitlines()
        assert counts() == [4, 3, 2]  # --dry-run changes nothing
        retention.purge(env.store, env.config)  # what the daemon runs once a day
        assert counts() == [2, 1, 1]
        # A ticket's own line stays with the ticket, however old; the fresh one stays.
        assert {r["ticket_id"] for r in env.store.query("SELECT ticket_id FROM web_events")} == {ticket_id, None}
    finally:
        env.daemon.close()
        env.store.close()


# -- 5. every password change is told ----------------------------------------

def test_a_password_set_through_self_service_is_told_to_the_registered_address(tmp_path):
    with serving(tmp_path) as (env, base, server):
        browser, chosen = choose(base, "jperez")
        ask(browser, base, chosen)
        server.drain()
        [url] = links_in(emails(env, "selfservice_link")[0].get_body(("plain",)).get_content(), base)
        assert Browser().post(url, {"password": GOOD, "confirm": GOOD}).status == 200
        # Queued with the use, in its transaction.
        assert env.store.one("SELECT count(*) FROM outbox WHERE kind = 'password_changed'")[0] == 1
        [told] = emails(env, "password_changed")
        assert told["To"] == OWNER and "jperez@alcaldia-prueba.gov.co" in told["Subject"]
        text = told.get_body(("plain",)).get_content()
        used = env.store.one("SELECT used_at FROM reset_links WHERE used_at IS NOT NULL")[0]
        assert f"se cambió el {env.config.local_time(used)} (hora local)" in text
        assert "Si usted no hizo este cambio" in text and "Comuníquese con nosotros de inmediato" in text
        assert GOOD not in told.as_string()


def test_a_password_set_after_an_sms_code_is_told_to_the_registered_email(tmp_path):
    with serving(tmp_path) as (env, base, server):
        browser, chosen = choose(base, "jperez")
        code_page = ask(browser, base, chosen, "sms")
        server.drain()
        [code] = sms_codes(tmp_path)
        link_page = browser.post(f"{base}/recuperar/codigo", {"code": code, "csrf": code_page.hidden("csrf"),
                                                              "step": code_page.hidden("step")})
        assert browser.post(link_page.url, {"password": GOOD, "confirm": GOOD}).status == 200
        [told] = emails(env, "password_changed")
        assert told["To"] == OWNER


def test_a_password_set_through_a_tickets_link_is_told_to_whom_the_link_went(tmp_path):
    with serving(tmp_path) as (env, base, server):
        radicado = pending(env, tmp_path, accounts=[("Correo electrónico", "contactenos@alcaldia-prueba.gov.co")])
        done = run_helpdesk("--config", env.config_path, "approve", radicado, "--by", "Ana", timeout=60)
        assert done.returncode == 0, done.stderr
        [sent] = emails(env, "reset_link")
        [url] = links_in(sent.get_body(("plain",)).get_content(), base)
        assert Browser().post(url, {"password": GOOD, "confirm": GOOD}).status == 200
        [told] = emails(env, "password_changed")
        assert told["To"] == sent["To"] == "despacho@alcaldia-prueba.gov.co"
        assert radicado in told["Subject"] and "contactenos@alcaldia-prueba.gov.co" in told["Subject"]


# -- 6. CSRF on every POST of /recuperar --------------------------------------

def test_every_post_of_recuperar_without_its_token_is_refused_and_changes_nothing(tmp_path):
    with serving(tmp_path) as (env, base, server):
        # /recuperar: no lookup happens (no audit line).
        browser = Browser()
        browser.get(f"{base}/recuperar")
        refused = browser.post(f"{base}/recuperar", {"identifier": "jperez"})
        assert refused.status == 403 and "Solicitud rechazada" in refused.text
        assert env.store.one("SELECT count(*) FROM web_events WHERE event = 'lookup'")[0] == 0
        # /recuperar/enviar with a valid step but no token: nothing is sent.
        browser, chosen = choose(base, "jperez")
        for means in ("email", "sms"):
            refused = browser.post(f"{base}/recuperar/enviar", {"means": means, "step": chosen.hidden("step")})
            assert refused.status == 403
        server.drain()
        assert emails(env, "selfservice_link") == [] and sms_codes(tmp_path) == []
        # /recuperar/codigo with the right code and step but no token: the code is not used.
        code_page = ask(browser, base, chosen, "sms")
        server.drain()
        [code] = sms_codes(tmp_path)
        refused = browser.post(f"{base}/recuperar/codigo", {"code": code, "step": code_page.hidden("step")})
        assert refused.status == 403
        assert env.store.one("SELECT count(*) FROM recovery_codes WHERE used_at IS NOT NULL")[0] == 0
        assert env.store.one("SELECT count(*) FROM reset_links")[0] == 0
        # With its token the same code works: the refusal above was the token's.
        assert browser.post(f"{base}/recuperar/codigo", {"code": code, "csrf": code_page.hidden("csrf"),
                                                         "step": code_page.hidden("step")}).status == 200


def test_a_wrong_token_is_refused_like_a_missing_one(tmp_path):
    with serving(tmp_path) as (env, base, server):
        browser, chosen = choose(base, "jperez")
        for path in ("/recuperar", "/recuperar/enviar", "/recuperar/codigo"):
            refused = browser.post(f"{base}{path}", {"identifier": "jperez", "means": "email", "code": "123456",
                                                     "step": chosen.hidden("step"), "csrf": "0" * 64})
            assert refused.status == 403, path


def test_a_budget_or_limit_of_zero_is_refused_naming_the_key(tmp_path):
    from helpdesk.errors import ConfigError

    with pytest.raises(ConfigError, match=r"web\.sends_per_hour: al menos 1"):
        Embedded(tmp_path / "h", web={"sends_per_hour": 0})
