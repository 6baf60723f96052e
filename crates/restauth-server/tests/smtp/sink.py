"""An SMTP server on loopback that keeps every mail it receives.

Usage: sink.py PORT FOLDER. Each message is written to FOLDER/<n>.eml (renamed into place
once complete, so a reader never sees half a mail), with the envelope recipients on a first
line `X-Envelope-To: ...`. Prints "ready" once it accepts connections; stops when its
standard input closes.
"""

import pathlib
import sys

from aiosmtpd.controller import Controller


class Keep:
    def __init__(self, folder):
        self.folder = pathlib.Path(folder)
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        tmp = self.folder / f".{self.count}.tmp"
        head = ("X-Envelope-To: " + ", ".join(envelope.rcpt_tos) + "\r\n").encode()
        tmp.write_bytes(head + envelope.content)
        tmp.rename(self.folder / f"{self.count}.eml")
        return "250 Message accepted for delivery"


def main():
    port, folder = int(sys.argv[1]), sys.argv[2]
    controller = Controller(Keep(folder), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
