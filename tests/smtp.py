"""A mail server for tests that start real processes: it speaks just enough SMTP for
Django's SMTP backend, keeps every message it is given, and can take a message and then not
answer (the moment a worker dies mid-send: the server has the message, the sender never
hears so)."""

import contextlib
import email
import socketserver
import threading

END_OF_DATA = b"\r\n.\r\n"


class MailServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, *, stall_first: bool = False):
        super().__init__(("127.0.0.1", port), Session)
        self.messages: list[email.message.Message] = []
        self.stall_first = stall_first
        self.stalled = threading.Event()  # the first message is in, unanswered
        self.release = threading.Event()  # answer no more: close the stalled session
        self._lock = threading.Lock()

    def keep(self, data: bytes) -> bool:
        """Keep a message; True when its sender must not hear that it was taken."""
        with self._lock:
            self.messages.append(email.message_from_bytes(data))
            return self.stall_first and len(self.messages) == 1

    def message_ids(self) -> list[str]:
        with self._lock:
            return [message["Message-ID"] for message in self.messages]

    def __enter__(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.shutdown()
        self.server_close()


class Session(socketserver.StreamRequestHandler):
    def handle(self):
        self.reply(b"220 test mail server")
        while line := self.rfile.readline():
            verb = line[:4].upper()
            if verb == b"DATA":
                self.reply(b"354 go ahead")
                if not self.take_message():
                    return
            elif verb == b"QUIT":
                self.reply(b"221 bye")
                return
            else:  # EHLO, HELO, MAIL, RCPT, RSET, NOOP
                self.reply(b"250 ok")

    def take_message(self) -> bool:
        data = b""
        while not data.endswith(END_OF_DATA):
            chunk = self.rfile.readline()
            if not chunk:
                return False
            data += chunk
        body = data[: -len(END_OF_DATA)].replace(b"\r\n..", b"\r\n.")
        if self.server.keep(body):
            self.server.stalled.set()
            self.server.release.wait()
            return False
        self.reply(b"250 queued")
        return True

    def reply(self, text: bytes) -> None:
        with contextlib.suppress(OSError):
            self.wfile.write(text + b"\r\n")
