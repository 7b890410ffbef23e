"""Builders of inbound test messages: real MIME, as mail clients write it."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid

SUPPORT = "soporteccc@entidad.gov.co"
ENTITY = "sistemas@alcaldia-prueba.gov.co"


def request(
    sender: str = ENTITY,
    subject: str = "Solicitud de reinicio de clave",
    body: str = "Adjunto los documentos.",
    message_id: str | None = None,
    headers: dict[str, str] | None = None,
    attachments: list[tuple[str, bytes, str]] = (),
    charset: str = "utf-8",
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = SUPPORT
    msg["Subject"] = subject
    msg["Date"] = formatdate()
    msg["Message-ID"] = message_id if message_id is not None else make_msgid(domain="alcaldia-prueba.gov.co")
    if not msg["Message-ID"]:
        del msg["Message-ID"]
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body, charset=charset)
    for filename, data, ctype in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def reply_to(raw_ack: bytes, sender: str = ENTITY, subject: str | None = None, body: str = "Respuesta de la entidad.",
             attachments: list[tuple[str, bytes, str]] = (), html: str = "") -> bytes:
    """The entity answers one of our emails, threaded as a mail client does;
    ``html`` makes an HTML-only body (as some webmails send)."""
    import email
    import email.policy

    ack = email.message_from_bytes(raw_ack, policy=email.policy.default)
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = SUPPORT
    msg["Subject"] = subject or f"RE: {ack['Subject']}"
    msg["Message-ID"] = make_msgid(domain=sender.partition("@")[2])
    msg["In-Reply-To"] = ack["Message-ID"]
    msg["References"] = ack["Message-ID"]
    if html:
        msg.set_content(html, subtype="html")
    else:
        msg.set_content(body)
    for filename, data, ctype in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def bounce_of(raw_ours: bytes, reporter: str = "MAILER-DAEMON@mx.alcaldia-prueba.gov.co") -> bytes:
    """An RFC 3464 delivery status notification for one of our emails."""
    import email
    import email.policy

    ours = email.message_from_bytes(raw_ours, policy=email.policy.default)
    original_headers = "".join(f"{k}: {v}\r\n" for k, v in ours.items())
    to = ours["To"]
    return (
        f"Return-Path: <>\r\nFrom: Mail Delivery System <{reporter}>\r\nTo: {SUPPORT}\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: {make_msgid(domain='mx.alcaldia-prueba.gov.co')}\r\n"
        f"Date: {formatdate()}\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nThe mail system could not deliver your message.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.alcaldia-prueba.gov.co\r\n\r\n"
        f"Final-Recipient: rfc822; {to}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\n{original_headers}\r\n--B--\r\n"
    ).encode("utf-8")


# What old clients put in X-Mailer; the header shapes below are theirs.
OUTLOOK_2000 = "Microsoft Outlook CWS, Build 9.0.2416 (9.0.2911.0)"
NETSCAPE_4 = "Mozilla 4.79 [es] (Windows NT 5.0; U)"
EUDORA = "QUALCOMM Windows Eudora Version 5.1"


def legacy_request(
    mailer: str,
    from_header: str | bytes,
    subject: str | bytes,
    charset: str = "windows-1252",
    attachments: list[tuple[str | bytes, bytes, str]] = (),
    body: str = "Cordial saludo, adjunto los documentos de la solicitud.",
    message_id: str | None = None,
) -> bytes:
    """A request as Outlook 2000, Netscape 4 and Eudora sent one: header
    text (display names, Subject, attachment names) written as raw 8-bit
    bytes in ``charset``, no RFC 2047. A ``bytes`` value is written as it is
    (an encoded word holding raw bytes, say); a ``str`` is encoded with
    ``charset``."""
    import base64

    def raw(value: str | bytes) -> bytes:
        return value if isinstance(value, bytes) else value.encode(charset)

    domain = "alcaldia-prueba.gov.co"
    mid = message_id or make_msgid(domain=domain)
    head = (b"From: " + raw(from_header) + b"\r\n" + f"To: {SUPPORT}\r\n".encode() + b"Subject: " + raw(subject)
            + f"\r\nDate: {formatdate()}\r\nMessage-ID: {mid}\r\nX-Mailer: {mailer}\r\nMIME-Version: 1.0\r\n".encode())
    text = (f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n").encode() \
        + body.encode(charset) + b"\r\n"
    if not attachments:
        return head + text
    boundary = b"----=_NextPart_000_0007_01C0A1B2.3C4D5E60"
    out = head + b'Content-Type: multipart/mixed;\r\n\tboundary="' + boundary + b'"\r\n\r\n'
    out += b"This is a multi-part message in MIME format.\r\n\r\n--" + boundary + b"\r\n" + text
    for filename, data, ctype in attachments:
        name = raw(filename)
        encoded = base64.encodebytes(data).replace(b"\n", b"\r\n")
        out += (b"--" + boundary + b"\r\nContent-Type: " + ctype.encode() + b';\r\n\tname="' + name + b'"\r\n'
                b"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment;\r\n\tfilename=\""
                + name + b'"\r\n\r\n' + encoded)
    return out + b"--" + boundary + b"--\r\n"
