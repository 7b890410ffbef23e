"""Is this message from a person? Loop, bounce and robot detection.

A helpdesk that answers robots becomes a weapon: an out-of-office reply
answered by an acknowledgement answered by another out-of-office fills two
mailboxes in minutes. The rules follow RFC 3834 (Auto-Submitted), RFC 2369 /
2919 (list headers), RFC 3464 (delivery reports) and the headers that common
servers put on their automatic messages. The verdict is one value,
``Robot``; the pipeline records the message but never answers it.
"""

from __future__ import annotations

import enum

from .message import Intake

# Local parts that only ever send automatic mail (RFC 3834 section 2 and
# long practice: these never read replies).
_ROBOT_LOCALPARTS = {"mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply", "do-not-reply"}


class Robot(enum.Enum):
    """Why a message gets no automatic reply; HUMAN means it may get one."""

    HUMAN = "human"
    OWN_ADDRESS = "own_address"  # one of our own emails came back
    LOOP = "loop"  # X-Loop names us
    BOUNCE = "bounce"  # delivery status notification or empty return path
    AUTO_REPLY = "auto_reply"  # out-of-office, another helpdesk, autoresponder
    LIST = "list"  # mailing list or bulk mail
    NO_SENDER = "no_sender"  # no usable From address to answer


def classify(intake: Intake, own_address: str) -> Robot:
    own = own_address.lower()
    if intake.sender == own:
        return Robot.OWN_ADDRESS
    if _names_us(intake, own):
        return Robot.LOOP
    if _is_bounce(intake):
        return Robot.BOUNCE
    if _is_auto_reply(intake):
        return Robot.AUTO_REPLY
    if _is_list(intake):
        return Robot.LIST
    if not intake.requester:
        return Robot.NO_SENDER
    return Robot.HUMAN


def _names_us(intake: Intake, own: str) -> bool:
    return any(own in value.lower() for value in intake.headers.get("x-loop", []))


def _is_bounce(intake: Intake) -> bool:
    if intake.content_type == "multipart/report":
        return True
    # RFC 5321: delivery notifications are sent with a null reverse path.
    if intake.return_path is not None and intake.return_path in ("", "<>"):
        return True
    local = intake.sender.partition("@")[0]
    return local in ("mailer-daemon", "postmaster")


def _is_auto_reply(intake: Intake) -> bool:
    auto = intake.header("auto-submitted").lower()
    # RFC 3834: "no" (any case, with or without comment) is a human.
    if auto and auto.split("(")[0].split(";")[0].strip() != "no":
        return True
    if intake.header("x-autoreply") or intake.header("x-autorespond"):
        return True
    # Exchange marks its own automatic replies this way.
    suppress = intake.header("x-auto-response-suppress").lower()
    if any(token in suppress for token in ("all", "oof", "autoreply")):
        return True
    if intake.header("precedence").lower() == "auto_reply":
        return True
    # Another instance of this software, or a clone of it.
    if intake.header("x-helpdesk-kind"):
        return True
    return intake.sender.partition("@")[0] in _ROBOT_LOCALPARTS


def _is_list(intake: Intake) -> bool:
    if intake.header("precedence").lower() in ("bulk", "junk", "list"):
        return True
    return bool(intake.header("list-id") or intake.header("list-unsubscribe"))
