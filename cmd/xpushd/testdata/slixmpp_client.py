#!/usr/bin/python3
"""A third-party XMPP client for xpushd's end-to-end test (e2e_test.go).

It registers its account in-band (XEP-0077), logs in with SCRAM over plain
TCP on loopback, waits for one of the paper's notification IQs
(androidpn:iq:notification), answers it with an IQ result (the delivery
acknowledgement) and exits 0. Everything it has to say goes to standard
output as one JSON object per line:

  {"event": "registered"}
  {"event": "online", "jid": "...", "mechanism": "SCRAM-SHA-256"}
  {"event": "notification", "id": "...", "title": "...", ...}
  {"event": "error", "error": "..."}          (then exit 1)

Run it with Debian's /usr/bin/python3 (python3-slixmpp), not a pyenv one.
"""

import argparse
import json
import logging
import sys

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

NS = "androidpn:iq:notification"


def emit(**obj):
    print(json.dumps(obj), flush=True)


class PushClient(slixmpp.ClientXMPP):
    def __init__(self, jid, password, mechanism):
        super().__init__(jid, password, sasl_mech=mechanism)
        # slixmpp 1.8.3 holds back every stanza but bind and session until
        # the session has started, the registration IQs included.
        self._always_send_everything = True
        self.exit_code = 1
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0004")
        self.register_plugin("xep_0066")
        self.register_plugin("xep_0077")
        self["xep_0077"].force_registration = True
        self.add_event_handler("register", self.on_register)
        self.add_event_handler("session_start", self.on_session_start)
        self.add_event_handler("failed_auth", self.on_failed_auth)
        self.add_event_handler("disconnected", self.on_disconnected)
        self.register_handler(
            Callback(
                "androidpn notification",
                MatchXPath("{jabber:client}iq/{%s}notification" % NS),
                self.on_notification,
            )
        )

    async def on_register(self, form):
        iq = self.Iq()
        iq["type"] = "set"
        iq["register"]["username"] = self.boundjid.user
        iq["register"]["password"] = self.password
        try:
            await iq.send(timeout=10)
        except IqError as e:
            self.fail("registration refused: %s" % e.iq["error"]["condition"])
            return
        except IqTimeout:
            self.fail("registration: no answer")
            return
        emit(event="registered")

    def on_session_start(self, event):
        mech = self["feature_mechanisms"].mech
        emit(event="online", jid=str(self.boundjid), mechanism=mech.name if mech else "")

    def on_failed_auth(self, event):
        self.fail("authentication failed")

    def on_notification(self, iq):
        if iq["type"] != "set":
            return
        n = iq.xml.find("{%s}notification" % NS)

        def text(name):
            el = n.find("{%s}%s" % (NS, name))
            return (el.text or "") if el is not None else None

        emit(
            event="notification",
            id=text("id"),
            title=text("title"),
            message=text("message"),
            uri=text("uri"),
            iq_from=str(iq["from"]),
            iq_to=str(iq["to"]),
        )
        # The IQ result is the paper's delivery acknowledgement.
        iq.reply(clear=True).send()
        self.exit_code = 0
        # Close the stream after the result: the server reads it first.
        self.disconnect(wait=2.0)

    def on_disconnected(self, event):
        if self.exit_code != 0:
            emit(event="error", error="disconnected before a notification came")

    def fail(self, msg):
        emit(event="error", error=msg)
        self.exit_code = 1
        self.disconnect()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", required=True, help="HOST:PORT of the c2s listener")
    p.add_argument("--jid", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--mechanism", default="SCRAM-SHA-256")
    p.add_argument("--timeout", type=float, default=15.0)
    p.add_argument("--debug", action="store_true")
    args = p.parse_args()
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )

    host, _, port = args.server.rpartition(":")
    xmpp = PushClient(args.jid, args.password, args.mechanism)

    def timeout():
        if xmpp.exit_code != 0:
            emit(event="error", error="timed out after %gs" % args.timeout)
        xmpp.disconnect()
        xmpp.loop.stop()

    xmpp.loop.call_later(args.timeout, timeout)
    # Plain TCP on loopback: no STARTTLS even if the server offers it.
    xmpp.connect(address=(host, int(port)), force_starttls=False, disable_starttls=True)
    try:
        xmpp.process(forever=False)
    except RuntimeError:
        pass  # the timeout stopped the loop
    return xmpp.exit_code


if __name__ == "__main__":
    sys.exit(main())
