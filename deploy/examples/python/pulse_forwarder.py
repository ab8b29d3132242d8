#!/usr/bin/python3
"""pulse_forwarder.py: re-publish plurum-pulse-bridge's events to other machines with
ZeroMQ's own proxy (zmq_proxy: the XSUB/XPUB forwarder). Debian: python3-zmq.

    pulse_forwarder.py [--events UPSTREAM] [--bind ENDPOINT]

Prints the endpoint it bound (useful with tcp://HOST:*) and forwards until killed.
XPUB_VERBOSE passes every subscription upstream, so each new remote subscriber gets the
bridge's cached bridge.status, as a local one does. A port beyond loopback must be
protected: see docs/deploy.md (CurveZMQ on the XPUB socket).
"""
import argparse
import os
import sys

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pulse_client import default_endpoint  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--events", default=default_endpoint("events"))
ap.add_argument("--bind", default="tcp://*:5556")
a = ap.parse_args()
ctx = zmq.Context()
xsub = ctx.socket(zmq.XSUB)
xsub.connect(a.events)
xpub = ctx.socket(zmq.XPUB)
xpub.setsockopt(zmq.XPUB_VERBOSE, 1)
xpub.bind(a.bind)
print(xpub.getsockopt_string(zmq.LAST_ENDPOINT), flush=True)
zmq.proxy(xsub, xpub)
