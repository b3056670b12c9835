"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

import email
import socket
from email.message import Message
from email.policy import default

from aiosmtpd.controller import Controller


class Inbox:
    def __init__(self):
        self.envelopes = []
        #: the client's address and port for each envelope: one per SMTP connection
        self.peers = []
        #: address -> the reply to its RCPT TO instead of 250, e.g. "550 5.1.1 No such user"
        self.refusals = {}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refusals:
            return self.refusals[address]
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.envelopes.append(envelope)
        self.peers.append(session.peer)
        return "250 OK"

    @property
    def messages(self) -> list[Message]:
        return [self._parse(envelope) for envelope in self.envelopes]

    @staticmethod
    def _parse(envelope) -> Message:
        if envelope.smtp_utf8:
            # UTF-8 headers (RFC 6532): parsed from bytes they would come back surrogate-escaped.
            return email.message_from_string(envelope.content.decode(), policy=default)
        return email.message_from_bytes(envelope.content, policy=default)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MailServer:
    """Start and stop an SMTP server on a fixed loopback port; it offers SMTPUTF8 only when
    asked to (aiosmtpd's default, like many servers)."""

    def __init__(self, port: int, smtputf8: bool = False):
        self.port = port
        self.inbox = Inbox()
        self._controller = Controller(
            self.inbox, hostname="127.0.0.1", port=port, enable_SMTPUTF8=smtputf8
        )

    def start(self):
        self._controller.start()
        return self

    def stop(self):
        self._controller.stop()
