"""Examine a ticket's documents and record the verdict, exactly once.

Intake marks a ticket ``examine_pending`` in the same transaction that
records its message. This module later gathers every attachment the entity
sent on that ticket (from the raw-mail store), has the worker process read
them, classifies, runs the checks and decides; then ONE transaction
replaces the ticket's documents and examination findings, sets its state,
queues the ``correction`` or ``accepted`` email and clears the mark. A
crash before that commit leaves the mark set and the examination is simply
done again; after it, nothing is left to do.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path

from .. import directory, localtime, register, wording
from ..config import DEFAULT_PROCEDURE, Config
from ..documents import RESCAN_SMALLER
from ..documents.classify import Classified, classify_all, newest_by_kind
from ..documents.facts import FileFacts
from ..documents.ticket_files import FORWARDED, MAX_FILES
from ..documents.worker import Examined, Worker, WorkerFailure
from ..faults import crash_point
from ..findings import WARNING, Finding
from ..intake.message import parse
from ..intake.pipeline import SYSTEM, mark_follow_up, over_daily_cap, request_auth
from ..outgoing import outbox
from ..outgoing.replies import Renderer
from ..resets.registered import lookup as lookup_registered
from ..rules import REGISTERED_EMAIL, REGISTERED_NAME, Procedure, Rules
from ..safefiles import create_new, fit_name
from ..store import Store, iso
from ..tickets import (
    NEEDS_CORRECTION,
    OPEN_STATES,
    STATE_LABELS,
    add_finding,
    get_by_id,
    record_event,
    thread_ids,
    verdict_recipient,
)
from .checks import Examination, form_nit, run_checks
from .decision import decide

log = logging.getLogger(__name__)

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclasses.dataclass(frozen=True)
class Attached:
    """One file the entity sent, with where it came from."""

    message_row: int  # messages.id
    part: int  # position among that message's attachments
    facts: FileFacts


def pending(store: Store) -> list[int]:
    return [r["id"] for r in store.query("SELECT id FROM tickets WHERE examine_pending = 1 ORDER BY id")]


def next_pending(store: Store, after: int) -> int | None:
    """The oldest ticket marked for examination after ticket ``after``."""
    row = store.one("SELECT id FROM tickets WHERE examine_pending = 1 AND id > ? ORDER BY id LIMIT 1", (after,))
    return row["id"] if row else None


def is_pending(store: Store, ticket_id: int) -> bool:
    return store.one("SELECT 1 FROM tickets WHERE id = ? AND examine_pending = 1", (ticket_id,)) is not None


def _stored_messages(store: Store, ticket_id: int) -> list:
    """The rows of the messages whose files the entity sent, oldest first.

    A message whose original the retention policy removed (``raw_purged_at``)
    has nothing left to read and is skipped; only closed tickets are purged,
    and those are never examined again. So is a message intake read for its
    headers only: loading it again would hold tens of MB for no attachment.
    """
    return store.query(
        "SELECT id, sha256 FROM messages WHERE ticket_id = ? AND direction = 'in' "
        "AND kind IN ('request', 'reply') AND raw_purged_at IS NULL AND headers_only = 0 ORDER BY id",
        (ticket_id,),
    )


def attachments_of(store: Store, config: Config, ticket_id: int):
    """(message row, part, Attachment) for each file the entity sent, oldest
    first, parsed here: for staff saving them (``show --save-attachments``);
    the examination has the worker parse them."""
    for row in _stored_messages(store, ticket_id):
        intake = parse(store.load_raw(row["sha256"]), config.limits)
        for part, attachment in enumerate(intake.attachments):
            yield row["id"], part, attachment


def examine_or_count_failure(store: Store, config: Config, rules: Rules, worker: Worker, renderer: Renderer,
                             ticket_id: int, files_read: Read | None = None) -> None:
    """Examine one ticket; a failure (a bug, a hostile file that escaped the
    worker's limits) is counted by ``record_failure``, never raised: it must
    stop neither intake nor the other tickets."""
    crash_point("before_examination")
    try:
        examine_ticket(store, config, rules, worker, renderer, ticket_id, files_read)
    except Exception as exc:
        gave_up = record_failure(store, config, rules, renderer, ticket_id, exc)
        log.exception("examination of ticket %s failed; %s", ticket_id,
                      "given up: answered as unreadable and flagged for staff" if gave_up
                      else "it will be retried", extra={"event": "examination_failed"})


@dataclasses.dataclass(frozen=True)
class Read:
    """A ticket's files as its worker read them, before any verdict."""

    seen: object  # _last_inbound when they were read: a newer message makes the verdict wait
    rows: list  # the messages read, oldest first (_stored_messages)
    examined: Examined


def read_files(store: Store, config: Config, rules: Rules, worker: Worker, ticket_id: int) -> Read:
    """The worker's part of an examination: parse the ticket's messages,
    read their files. Nothing is written."""
    # What was examined: a message joined meanwhile (intake runs beside the
    # service's examination) makes this verdict stale; see the commit below.
    seen = _last_inbound(store.conn, ticket_id)
    procedure = procedure_of(rules, get_by_id(store.conn, ticket_id))
    rows = _stored_messages(store, ticket_id)
    # One ticket's files share one budget: each file's own timeout times
    # twenty files would let one mail hold the examination for minutes.
    budget = rules.documents.worker.ticket_seconds
    examined = worker.examine_messages([str(store.raw_path(r["sha256"])) for r in rows], procedure.id, config.limits,
                                       time.monotonic() + budget, want_texts=procedure.fields_from_text)
    return Read(seen, rows, examined)


def examine_ticket(store: Store, config: Config, rules: Rules, worker: Worker, renderer: Renderer, ticket_id: int,
                   files_read: Read | None = None) -> str | None:
    """Examine one ticket (its files read ahead, ``files_read``, or read
    now); return the email kind queued (or None)."""
    files: list[Attached] = []
    forwarded: list[str] = []
    skipped: list[str] = []
    late: list[str] = []
    files_read = files_read or read_files(store, config, rules, worker, ticket_id)
    seen, rows, examined = files_read.seen, files_read.rows, files_read.examined
    ticket = get_by_id(store.conn, ticket_id)
    procedure = procedure_of(rules, ticket)
    budget = rules.documents.worker.ticket_seconds
    for planned in examined.plan.files:
        key = (planned.message, planned.part)
        if planned.content_type == FORWARDED:
            forwarded.append(planned.filename)
            continue
        if not planned.chosen:
            skipped.append(planned.filename)
            continue
        result = examined.results.get(key)
        if result is None:
            late.append(planned.filename)
            result = WorkerFailure(planned.filename, f"no alcanzó a examinarse: los adjuntos de la solicitud "
                                                     f"superaron {budget} segundos de examen; {RESCAN_SMALLER}")
        if isinstance(result, WorkerFailure):
            result = FileFacts(filename=planned.filename, sha256="", size=planned.size, type="other",
                               error=result.reason)
        for facts in _flatten(result):
            files.append(Attached(rows[planned.message]["id"], planned.part, facts))
    classified, notes = classify_all([f.facts for f in files], rules.documents, procedure.kinds)
    counted_form = newest_by_kind(classified).get("excel_form")
    read = counted_form.facts.form if counted_form else None
    text_form = None
    if read is None and procedure.fields_from_text:
        text_form = _text_form(examined.plan.texts, procedure)
    # Duplicates and the directory are looked up by the number even when
    # its check digit is wrong (that is the entity's correction to make).
    parsed_nit = form_nit(read)
    nit_number = parsed_nit.number if parsed_nit else None
    account = ((read or text_form).fields.get("account") or "").strip() if (read or text_form) else ""
    looked_up, registered_to = _registered(config, procedure, read or text_form)
    auth = request_auth(store.conn, ticket_id)
    exam = Examination(classified, notes, ticket.sender, forwarded, _other_open_requests(store, ticket_id, nit_number),
                       directory.lookup(store.conn, nit_number) if nit_number else None, directory.size(store.conn),
                       localtime.zone(config.site.timezone), procedure.documents, procedure.form,
                       register.lookup(store.conn, account) if account else None, register.size(store.conn),
                       tuple(d.lower() for d in config.accounts.domains), text_form, looked_up, registered_to,
                       procedure.identifier, procedure.documents_unless_registered, procedure.fields_from_text,
                       sender_authenticated=auth is not None and auth.authenticates(ticket.sender),
                       hands_over=procedure.hands_over_account, person_field=procedure.person_field,
                       notice_fields=procedure.notice_to, directory_domains=_directory_domains(store, procedure))
    findings = run_checks(exam, rules, procedure.checks)
    if skipped:
        why = "repetido" if len(skipped) == 1 else "repetidos"
        findings.append(Finding(WARNING, "attachments_skipped",
                                f"{wording.count(len(skipped), 'adjunto', 'adjuntos')} sin examinar ({why}, o más "
                                f"de {MAX_FILES} por solicitud): " + ", ".join(skipped[:10])))
    if late:
        findings.append(Finding(WARNING, "examination_time_exceeded",
                                f"{wording.count(len(late), 'adjunto', 'adjuntos')} sin examinar: el examen de la "
                                f"solicitud superó {budget} segundos (rules/documents.toml, worker.ticket_seconds): "
                                + ", ".join(late[:10])))
    decision = decide(findings, procedure.problems)
    form = exam.form
    counted = {id(c) for c in newest_by_kind(classified).values()}

    with store.transaction() as conn:
        marked = conn.execute("SELECT examine_pending FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
        if not marked or not marked["examine_pending"]:
            return None  # another process finished it first
        if _last_inbound(conn, ticket_id) != seen:
            # New documents arrived while these were read: no verdict on the
            # old set; the mark stays and the next pass reads them all.
            log.info("examination of %s superseded by a newer message", ticket.radicado,
                     extra={"event": "examination_superseded", "radicado": ticket.radicado})
            return None
        conn.execute("DELETE FROM documents WHERE ticket_id = ?", (ticket_id,))
        conn.execute("DELETE FROM findings WHERE ticket_id = ? AND source = 'examination'", (ticket_id,))
        for attached, item in zip(files, classified):
            _insert_document(conn, ticket_id, attached, item, id(item) in counted)
        for f in findings:
            add_finding(conn, ticket_id, f.severity, f.code, f.detail, f.document, source="examination")
        fields = dict(form.fields) if form else {}
        if registered_to is not None:
            fields[REGISTERED_EMAIL] = registered_to.email
            if registered_to.name:
                fields[REGISTERED_NAME] = registered_to.name
        # The columns listings show, by the procedure's fields: who asks
        # (the entity, or an office), the person concerned, and the address
        # the result goes to (field 1.2 for a reset).
        result_to = fields.get(procedure.result_to)
        result_field = procedure.form.fields.get(procedure.result_to)
        _note_legal_rep_change(conn, ticket_id, result_to,
                               result_field.name if result_field else "correo registrado de la cuenta")
        conn.execute(
            "UPDATE tickets SET state = ?, examine_pending = 0, entity_name = ?, entity_nit = ?, "
            "legal_rep_name = ?, legal_rep_email = ?, form_json = ?, nit_number = ?, updated_at = ? WHERE id = ?",
            (decision.state, fields.get(procedure.entity_field), fields.get("entity_nit"),
             fields.get(procedure.person_field), result_to, _form_json(form, fields), nit_number, iso(), ticket_id),
        )
        record_event(conn, ticket_id, SYSTEM, "documentos examinados",
                     f"estado: {STATE_LABELS[decision.state]}; problemas: {len(decision.problem_lines)}")
        to = verdict_recipient(ticket, procedure)
        capped = over_daily_cap(conn, config, to, ticket.sender, auth)
        if capped:
            add_finding(conn, ticket_id, "warning", "reply_cap_reached", capped, source="examination")
            # The entity gets no answer today: a person must see it.
            mark_follow_up(conn, ticket_id, "resultado del examen sin enviar: límite diario de respuestas automáticas")
            return None
        # The registered address the directory gave is never told to the
        # requester (CONTRACT §13, no oracle): only an address the form holds.
        shown = "" if procedure.result_to == REGISTERED_EMAIL else result_to or ""
        context = {"problems": decision.problem_lines, "no_attachments_reminder": False, "legal_rep_email": shown}
        attachments = ([blank_form(procedure, rules)] if any(f.code == "missing_excel_form" for f in findings)
                       else [])
        reply = renderer.build(decision.email_kind, to, ticket.radicado, context,
                               answering=thread_ids(conn, ticket_id), attachments=attachments,
                               procedure=ticket.procedure)
        outbox.enqueue(conn, config, ticket_id, reply)
    log.info("examined: %s, %d problem(s), %d warning(s), queued %s", decision.state,
             len(decision.problem_lines), sum(1 for f in findings if f.severity == "warning"), decision.email_kind,
             extra={"event": "examined", "radicado": ticket.radicado, "kind": decision.email_kind})
    return decision.email_kind


def _text_form(texts: list[str], procedure: Procedure):
    """The "Label: value" lines of the entity's messages (their texts,
    oldest first, as the worker read them): the newest that has any is the form."""
    from ..documents.text_form import read_text_form

    for text in reversed(texts):
        found = read_text_form(text, procedure.form)
        if found is not None:
            return found
    return None


def _registered(config: Config, procedure: Procedure, form) -> tuple[bool, object]:
    """(looked up, what the directory says) of the form's account or
    identifier, for a procedure that compares the sender with the
    registered address or sends its result there."""
    if not procedure.looks_up_registered or form is None:
        return False, None
    key = (form.fields.get("account") or form.fields.get("identifier") or "").strip()
    if not key:
        return False, None
    return True, lookup_registered(config, key)


def _directory_domains(store: Store, procedure: Procedure) -> tuple[str, ...]:
    """The directory's domains, for the look-alike check (read only when
    the procedure runs it)."""
    from .checks import LOOKALIKE_CHECK

    if LOOKALIKE_CHECK not in procedure.checks and not procedure.hands_over_account:
        return ()
    return tuple(directory.all_domains(store.conn))


def _last_inbound(conn, ticket_id: int) -> int:
    return conn.execute("SELECT coalesce(max(id), 0) FROM messages WHERE ticket_id = ? AND direction = 'in'",
                        (ticket_id,)).fetchone()[0]


def procedure_of(rules: Rules, ticket) -> Procedure:
    """The ticket's procedure; one since removed from the rules folder is
    examined as the default procedure would be, and said so in the log."""
    procedure = rules.procedures.get(ticket.procedure)
    if procedure is None:
        log.warning("procedure %s of %s is no longer in the rules; examined with the checks of %s",
                    ticket.procedure, ticket.radicado, DEFAULT_PROCEDURE,
                    extra={"event": "unknown_procedure", "radicado": ticket.radicado})
        procedure = rules.procedures.get(DEFAULT_PROCEDURE) or next(iter(rules.procedures.values()))
    return procedure


def _note_legal_rep_change(conn, ticket_id: int, new: str | None, field_name: str) -> None:
    """Field 1.2 decides where credentials go: a later message on the same
    ticket that replaces it is the high-risk ``legal_rep_email_changed``,
    naming both addresses. Recorded as an intake finding, so that examining
    the documents again does not erase it."""
    old = conn.execute("SELECT legal_rep_email FROM tickets WHERE id = ?", (ticket_id,)).fetchone()["legal_rep_email"]
    if old and new and old.strip().lower() != new.strip().lower():
        add_finding(conn, ticket_id, "warning", "legal_rep_email_changed",
                    f"el campo «{field_name}», adonde va el resultado, cambió en esta solicitud: antes {old}, "
                    f"ahora {new}")


# A ticket whose examination keeps raising (3,000 nested parts hitting the
# recursion limit, say) would be tried again at every cycle, forever, for
# seconds and hundreds of MB each time. After this many failures it is
# answered as unreadable and left to staff.
MAX_EXAMINATION_FAILURES = 3
FAILED_EVENT = "examen fallido"
UNREADABLE_MESSAGE = ("No pudimos procesar los archivos adjuntos de su mensaje. Envíelos de nuevo en un mensaje "
                      "sencillo: el formato firmado y el acta de posesión escaneados (PDF o imagen) y el formato "
                      "en Excel (.xlsx).")


def record_failure(store: Store, config: Config, rules: Rules, renderer: Renderer, ticket_id: int,
                   exc: BaseException) -> bool:
    """Count one failed examination of ``ticket_id``; at the limit clear its
    mark, warn staff (``examination_failed``, ``follow_up``) and ask the
    entity for readable documents. True when it gave up."""
    with store.transaction() as conn:
        record_event(conn, ticket_id, SYSTEM, FAILED_EVENT, f"{type(exc).__name__}: {str(exc)[:200]}")
        (failures,) = conn.execute("SELECT count(*) FROM events WHERE ticket_id = ? AND action = ?",
                                   (ticket_id, FAILED_EVENT)).fetchone()
        if failures < MAX_EXAMINATION_FAILURES:
            return False
        ticket = get_by_id(conn, ticket_id)
        conn.execute("UPDATE tickets SET state = ?, examine_pending = 0, updated_at = ? WHERE id = ?",
                     (NEEDS_CORRECTION, iso(), ticket_id))
        add_finding(conn, ticket_id, "warning", "examination_failed",
                    f"el examen de los documentos falló {failures} veces ({type(exc).__name__}); "
                    "revíselos a mano (helpdesk show --save-attachments)")
        mark_follow_up(conn, ticket_id, "no se pudieron examinar los documentos")
        # The rules the examination ran with: a procedure since removed is
        # None, and verdict_recipient then takes the safe side.
        to = verdict_recipient(ticket, rules.procedures.get(ticket.procedure))
        if not over_daily_cap(conn, config, to, ticket.sender, request_auth(conn, ticket_id)):
            reply = renderer.build("correction", to, ticket.radicado,
                                   {"problems": [UNREADABLE_MESSAGE],
                                    "no_attachments_reminder": False, "legal_rep_email": ""},
                                   answering=thread_ids(conn, ticket_id), procedure=ticket.procedure)
            outbox.enqueue(conn, config, ticket_id, reply)
    return True


def blank_form(procedure: Procedure, rules: Rules) -> tuple[str, str, bytes]:
    """The procedure's blank form, attached when the entity did not send it."""
    import tempfile

    from ..documents.form_template import blank_form_writer

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "formato_solicitud.xlsx"
        blank_form_writer(procedure, rules.form)(path)
        return ("Formato de solicitud.xlsx", XLSX_MIME, path.read_bytes())


def _flatten(facts: FileFacts) -> list[FileFacts]:
    """A zip's files count as attachments of their own, named inside it."""
    if not facts.members:
        return [facts]
    flat = []
    for member in facts.members:
        for inner in _flatten(member):
            flat.append(dataclasses.replace(inner, filename=f"{facts.filename}/{inner.filename}"))
    return flat


def _other_open_requests(store: Store, ticket_id: int, nit_number: str | None) -> list[tuple[str, str, frozenset[str]]]:
    """Open tickets of the same NIT (indexed), for the duplicate check."""
    if nit_number is None:
        return []
    marks = ",".join("?" * len(OPEN_STATES))
    rows = store.query(
        f"SELECT radicado, form_json FROM tickets WHERE nit_number = ? AND id != ? AND state IN ({marks})",
        (nit_number, ticket_id, *OPEN_STATES),
    )
    return [(row["radicado"], nit_number,
             frozenset(a["account"].lower() for a in json.loads(row["form_json"] or "{}").get("accounts", [])))
            for row in rows]


def _insert_document(conn, ticket_id: int, attached: Attached, item: Classified, counted: bool) -> None:
    facts = attached.facts
    conn.execute(
        "INSERT INTO documents(ticket_id, message_id, part, filename, kind, how, type, size, sha256, error, "
        "counted, facts_json, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (ticket_id, attached.message_row, attached.part, facts.filename, item.kind, item.how, facts.type,
         facts.size, facts.sha256, facts.error, int(counted), json.dumps(_facts_summary(facts), ensure_ascii=False), iso()),
    )


def _facts_summary(facts: FileFacts) -> dict:
    summary: dict = {}
    if facts.pdf:
        pdf = facts.pdf
        summary["pdf"] = {"pages": pdf.pages, "scanned_pages": pdf.scanned_pages, "has_text": pdf.has_text,
                          "signature_fields": pdf.signature_fields, "signed": pdf.signed,
                          "owner_protected": pdf.owner_protected}
    if facts.image_size:
        summary["image_size"] = list(facts.image_size)
    if facts.image_ink_ppm is not None:
        summary["image_ink_ppm"] = facts.image_ink_ppm
    if facts.form:
        summary["form_sheet"] = facts.form.sheet
    if facts.digital_signature:  # CONTRACT 11's digital_signature, as show --json gives it
        sig = facts.digital_signature
        summary["digital_signature"] = {"valid": sig.valid, "covers_whole_file": sig.covers_whole_file,
                                        "signer": sig.signer, "issuer": sig.issuer, "trusted": sig.trusted}
    if facts.reading is not None:  # CONTRACT 11's reading, and what it shows (examination/scan_checks.py)
        from .scan_checks import reading_summary

        summary["reading"] = reading_summary(facts.reading, facts.image_ink_ppm)
    return summary


def _form_json(form, fields: dict | None = None) -> str | None:
    if form is None:
        return None
    return json.dumps({"fields": fields if fields is not None else form.fields, "accounts": [{"type": a.type, "account": a.account} for a in form.accounts],
                       "sheet": form.sheet}, ensure_ascii=False)


def save_attachments(store: Store, config: Config, ticket_id: int, folder: Path) -> list[Path]:
    """Write every file the entity sent on a ticket into ``folder``, for staff to look at.

    Names are made safe (no path separators, no leading dots) and numbered,
    so two files with the same name never overwrite each other.
    """
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    written = []
    for n, (_row, _part, attachment) in enumerate(attachments_of(store, config, ticket_id), start=1):
        safe = "".join(c if c.isalnum() or c in " ._-()ñÑáéíóúÁÉÍÓÚ" else "_" for c in attachment.filename)
        target = folder / fit_name(f"{n:02d}-{safe.lstrip('.') or 'adjunto'}")
        create_new(target, attachment.data)
        written.append(target)
    return written
