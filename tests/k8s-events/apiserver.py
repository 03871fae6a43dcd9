#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A STAND-IN for the Kubernetes API server, not a real one (no API server can run on these
machines): an HTTPS server on 127.0.0.1 that answers the three requests oomless sends and validates
each one as the API server would, as far as the shared notes (shared/notes/kubernetes.md) and the
python3-kubernetes models tell:

  POST  /apis/events.k8s.io/v1/namespaces/NS/events          create an Event
  PATCH /apis/events.k8s.io/v1/namespaces/NS/events/NAME     the series of a repeat (merge patch)
  PATCH /api/v1/namespaces/NS/pods/POD/status                 the pod condition (strategic merge)

Every request is checked for: the bearer token (the content of the token file *now*, so a rotated
file makes the old token invalid), the path, the content type, and a body that deserializes into the
kubernetes.client models (EventsV1Event, V1Pod) and passes the server-side rules (type, deprecated*
fields unset on create, series count >= 2 with lastObservedTime, a qualified reportingController,
DNS-subdomain names, field lengths, `regarding` the right pod). Each request is appended to the log
(--log, one JSON object per line) with what was wrong in "violations"; a request with violations is
answered 4xx as the real server would.

Usage: apiserver.py --cert C --key K --token-file F --log L --port-file P --namespace NS --pod POD
                    --uid UID [--container NAME]
"""
import argparse
import json
import random
import re
import ssl
import string
import sys
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import kubernetes.client as k8s

DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
MICROTIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
DEPRECATED = ("deprecatedFirstTimestamp", "deprecatedLastTimestamp", "deprecatedCount", "deprecatedSource")


class _Resp:  # what ApiClient.deserialize() reads
    def __init__(self, data):
        self.data = data


API = k8s.ApiClient()


def deserialize(text, klass):
    return API.deserialize(_Resp(text), klass)


def dns_subdomain(name, prefix=False):
    """apimachinery's NameIsDNSSubdomain: a generateName (prefix) may end in '-'."""
    if prefix and name.endswith("-"):
        name = name[:-1] + "a"
    return 0 < len(name) <= 253 and bool(DNS1123_SUBDOMAIN.match(name))


def qualified_name(v):
    """apimachinery's IsQualifiedName: [prefix/]name, prefix a DNS subdomain, name <= 63."""
    parts = v.split("/")
    if len(parts) == 2:
        prefix, name = parts
        if not dns_subdomain(prefix):
            return False
    elif len(parts) == 1:
        name = parts[0]
    else:
        return False
    return 0 < len(name) <= 63 and bool(QUALIFIED_NAME.match(name))


def unknown_keys(obj, klass, path, out):
    """Keys the model does not know: the real server would drop them (or refuse them with strict
    field validation); oomless must not send any."""
    if not isinstance(obj, dict):
        return
    amap = {v: k for k, v in klass.attribute_map.items()}
    for key, val in obj.items():
        if key not in amap:
            out.append(f"{path}{key}: not a field of {klass.__name__}")
            continue
        t = klass.openapi_types[amap[key]]
        sub = getattr(k8s, t, None)
        if sub is not None and isinstance(val, dict):
            unknown_keys(val, sub, f"{path}{key}.", out)


class State:
    def __init__(self, a):
        self.a = a
        self.lock = threading.Lock()
        self.events = {}  # name -> the stored Event as a dict
        # The kubelet's own conditions: a patch must keep them (merge by type).
        self.conditions = [{"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"},
                           {"type": "PodScheduled", "status": "True"}]
        self.logf = open(a.log, "a", buffering=1)

    def log(self, rec):
        with self.lock:
            self.logf.write(json.dumps(rec) + "\n")


def check_event_create(st, ns, body, v):
    a = st.a
    unknown_keys(body, k8s.EventsV1Event, "", v)
    try:
        ev = deserialize(json.dumps(body), "EventsV1Event")
    except Exception as e:  # the model's own validation (event_time required, ...)
        v.append(f"does not deserialize as EventsV1Event: {e}")
        return
    if body.get("apiVersion") not in (None, "events.k8s.io/v1"):
        v.append(f"apiVersion {body.get('apiVersion')!r}")
    if body.get("kind") not in (None, "Event"):
        v.append(f"kind {body.get('kind')!r}")
    meta = body.get("metadata") or {}
    if meta.get("name"):
        if not dns_subdomain(meta["name"]):
            v.append(f"metadata.name {meta['name']!r} is not a DNS subdomain")
    elif not meta.get("generateName"):
        v.append("metadata: neither name nor generateName")
    elif not dns_subdomain(meta["generateName"], prefix=True):
        v.append(f"metadata.generateName {meta['generateName']!r} is not a DNS subdomain prefix")
    if meta.get("namespace") not in (None, ns):
        v.append(f"metadata.namespace {meta.get('namespace')!r} is not the path's {ns!r}")
    for f in DEPRECATED:
        if f in body:
            v.append(f"{f} must not be set on create")
    if not isinstance(body.get("eventTime"), str) or not MICROTIME.match(body["eventTime"]):
        v.append(f"eventTime {body.get('eventTime')!r} is not a MicroTime with six digits")
    elif not isinstance(ev.event_time, datetime):
        v.append("eventTime does not parse")
    if ev.type not in ("Normal", "Warning"):
        v.append(f"type {ev.type!r} is not Normal or Warning")
    if not ev.reporting_controller or not qualified_name(ev.reporting_controller):
        v.append(f"reportingController {ev.reporting_controller!r} is not a qualified name")
    if not ev.reporting_instance or len(ev.reporting_instance) > 128:
        v.append(f"reportingInstance {ev.reporting_instance!r}: required, at most 128")
    for f in ("action", "reason"):
        val = getattr(ev, f)
        if not val or len(val) > 128:
            v.append(f"{f} {val!r}: required, at most 128 characters")
    if ev.note is not None and len(ev.note.encode()) > 1024:
        v.append(f"note is {len(ev.note.encode())} bytes, over 1 KiB")
    if ev.series is not None:
        if ev.series.count is None or ev.series.count < 2 or ev.series.last_observed_time is None:
            v.append("series needs count >= 2 and lastObservedTime")
    r = ev.regarding
    if r is None:
        v.append("no regarding")
    else:
        want = {"kind": "Pod", "api_version": "v1", "name": a.pod, "namespace": ns, "uid": a.uid,
                "field_path": f"spec.containers{{{a.container}}}" if a.container else None}
        for k, w in want.items():
            if getattr(r, k) != w:
                v.append(f"regarding.{k} is {getattr(r, k)!r}, not {w!r}")
    if ev.related is not None:
        v.append("related is set")


def check_series_patch(st, old, patch, v):
    if set(patch) != {"series"}:
        v.append(f"a series patch carries {sorted(patch)}")
    s = patch.get("series")
    try:
        series = deserialize(json.dumps(s), "EventsV1EventSeries")
    except Exception as e:
        v.append(f"series does not deserialize: {e}")
        return
    if not isinstance(s, dict) or not isinstance(s.get("lastObservedTime"), str) or \
            not MICROTIME.match(s["lastObservedTime"]):
        v.append(f"series.lastObservedTime {s and s.get('lastObservedTime')!r} is not a MicroTime")
    if series.count is None or series.count < 2:
        v.append(f"series.count {series.count!r} is under 2")
    prev = (old.get("series") or {}).get("count", 1)
    if series.count is not None and series.count <= prev:
        v.append(f"series.count {series.count} does not grow past {prev}")


def check_status_patch(st, body, v):
    unknown_keys(body, k8s.V1Pod, "", v)
    try:
        pod = deserialize(json.dumps(body), "V1Pod")
    except Exception as e:
        v.append(f"does not deserialize as V1Pod: {e}")
        return None
    if set(body) != {"status"} or set(body["status"]) != {"conditions"}:
        v.append(f"the patch touches more than status.conditions: {body}")
    conds = body["status"].get("conditions") or []
    for c, m in zip(conds, pod.status.conditions or []):
        if m.type != "oomless.dev/MemoryHealthy":
            v.append(f"condition type {m.type!r}")
        if m.status not in ("True", "False", "Unknown"):
            v.append(f"condition status {m.status!r}")
        if not m.reason or not re.match(r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$", m.reason):
            v.append(f"condition reason {m.reason!r} is not CamelCase")
        if not isinstance(c.get("lastTransitionTime"), str) or not TIME.match(c["lastTransitionTime"]):
            v.append(f"lastTransitionTime {c.get('lastTransitionTime')!r} is not a Time")
    return conds


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    st = None

    def log_message(self, fmt, *args):
        pass

    def answer(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self, method):
        st, a = self.st, self.st.a
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        v = []
        with open(a.token_file) as f:
            token = f.read().strip()
        auth = self.headers.get("Authorization", "")
        presented = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        rec = {"method": method, "path": self.path, "content_type": self.headers.get("Content-Type"),
               "token": presented, "violations": v}
        code, out = 200, {}
        try:
            body = json.loads(raw) if raw else None
            rec["body"] = body
        except ValueError as e:
            body = None
            v.append(f"body is not JSON: {e}")
        if presented != token:
            rec["unauthorized"] = True
            st.log(rec)
            return self.answer(401, {"kind": "Status", "code": 401, "reason": "Unauthorized"})
        if self.headers.get("Accept") not in (None, "application/json", "*/*"):
            v.append(f"Accept {self.headers.get('Accept')!r}")
        ev_create = re.match(r"^/apis/events\.k8s\.io/v1/namespaces/([^/]+)/events$", self.path)
        ev_patch = re.match(r"^/apis/events\.k8s\.io/v1/namespaces/([^/]+)/events/([^/?]+)$", self.path)
        status = re.match(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/status$", self.path)
        ct = self.headers.get("Content-Type")
        if method == "POST" and ev_create and body is not None:
            ns = ev_create.group(1)
            if ns != a.namespace:
                v.append(f"namespace {ns!r} in the path")
            if ct != "application/json":
                v.append(f"Content-Type {ct!r} for a create")
            check_event_create(st, ns, body, v)
            if not v:
                with st.lock:
                    gen = body["metadata"]["generateName"][:58]
                    name = gen + "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(5))
                    stored = dict(body)
                    stored["metadata"] = dict(body["metadata"], name=name, namespace=ns,
                                              uid=f"e-{len(st.events)}", resourceVersion="1")
                    st.events[name] = stored
                rec["name"] = name
                code, out = 201, stored
        elif method == "PATCH" and ev_patch and body is not None:
            ns, name = ev_patch.groups()
            if ns != a.namespace:
                v.append(f"namespace {ns!r} in the path")
            if ct != "application/merge-patch+json":
                v.append(f"Content-Type {ct!r} for a series patch (client-go sends a merge patch)")
            old = st.events.get(name)
            if old is None:
                code, out = 404, {"kind": "Status", "code": 404, "reason": "NotFound"}
                rec["not_found"] = True
            else:
                check_series_patch(st, old, body, v)
                if not v:
                    with st.lock:
                        old["series"] = body["series"]
                    rec["name"] = name
                    out = old
        elif method == "PATCH" and status and body is not None:
            ns, pod = status.groups()
            if ns != a.namespace or pod != a.pod:
                v.append(f"pod {ns}/{pod} in the path, not {a.namespace}/{a.pod}")
            if ct != "application/strategic-merge-patch+json":
                v.append(f"Content-Type {ct!r}: a status patch must be a strategic merge patch, or it "
                         "replaces the kubelet's conditions")
            conds = check_status_patch(st, body, v)
            if not v and conds is not None:
                with st.lock:
                    for c in conds:  # strategic merge: by type
                        st.conditions = [x for x in st.conditions if x["type"] != c["type"]] + [c]
                    rec["conditions"] = list(st.conditions)
                    out = {"kind": "Pod", "apiVersion": "v1", "status": {"conditions": st.conditions}}
        elif body is not None or method not in ("POST", "PATCH"):
            v.append(f"no such request: {method} {self.path}")
        if v and code < 400:
            code, out = 422, {"kind": "Status", "code": 422, "reason": "Invalid", "message": "; ".join(v)}
        rec["code"] = code
        st.log(rec)
        self.answer(code, out)

    def do_POST(self):
        self.handle_any("POST")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_GET(self):
        self.handle_any("GET")


def main():
    ap = argparse.ArgumentParser()
    for o in ("cert", "key", "token-file", "log", "port-file", "namespace", "pod", "uid"):
        ap.add_argument("--" + o, required=True)
    ap.add_argument("--container")
    a = ap.parse_args()
    Handler.st = State(a)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
