#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Renders a contrib/k8s kustomization for `podman kube play`, the way kustomize would for the parts the
manifests use (resources, recursively), then applies the test's substitutions and prints the documents.

  render.py DIR [--image OLD=NEW]... [--app-args JSON] [--env CONTAINER:NAME=VALUE]... [--no-init DIR]
            [--restart-policy P] [--drop-volume NAME]... [--arg-replace OLD=NEW]... [--drop-arg ARG]...
            [--no-ports] [--no-probes] [--keep-kinds K,K]

--app-args replaces what follows "--" in the app container's command (the injected shape), or the
whole command when it has no "--" (the sidecar shape). --no-init drops the initContainers (each costs
about 20 s on podman 4.3) and turns the emptyDir named "oomless" into a hostPath DIR that the test has
filled as the initContainer would. Kinds podman cannot play (ServiceAccount, Role, RoleBinding) are
left out, and said so on stderr. --restart-policy sets the pod's restartPolicy: podman 4.3 restarts a
finished initContainer under "Always" (containers/podman#15631), so a test that keeps the
initContainer plays the pod with OnFailure. --drop-volume removes a volume and its mounts (podman has
no service-account token to project); --arg-replace edits every container's command (the sidecar's
--wait pattern names the test's app); --env sets a variable to a literal (podman resolves no
fieldRef metadata.namespace); --drop-arg removes an argument from every command. --no-ports and --no-probes are for
a pod without a network (the VM): podman refuses ports there, and under systemd it runs liveness probes
as curl inside the image, which has no curl (a kubelet sends the request itself). Nothing else is changed."""
import argparse
import json
import os
import sys

import yaml


def load(path):
    docs = []
    kfile = os.path.join(path, "kustomization.yaml")
    with open(kfile) as f:
        k = yaml.safe_load(f)
    for r in k.get("resources", []):
        p = os.path.normpath(os.path.join(path, r))
        if os.path.isdir(p):
            docs += load(p)
        else:
            with open(p) as f:
                docs += [d for d in yaml.safe_load_all(f) if d]
    for block in k.get("labels", []):
        for d in docs:
            d.setdefault("metadata", {}).setdefault("labels", {}).update(block.get("pairs", {}))
    return docs


def pod_spec(doc):
    if doc["kind"] == "Pod":
        return doc["spec"]
    return doc["spec"]["template"]["spec"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--image", action="append", default=[])
    ap.add_argument("--app-args")
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("--no-init")
    ap.add_argument("--restart-policy")
    ap.add_argument("--drop-volume", action="append", default=[])
    ap.add_argument("--arg-replace", action="append", default=[])
    ap.add_argument("--drop-arg", action="append", default=[])
    ap.add_argument("--no-ports", action="store_true")
    ap.add_argument("--no-probes", action="store_true")
    ap.add_argument("--keep-kinds", default="Deployment,Pod,ConfigMap")
    a = ap.parse_args()

    images = dict(s.split("=", 1) for s in a.image)
    keep = set(a.keep_kinds.split(","))
    out = []
    for d in load(a.dir):
        if d["kind"] not in keep:
            print(f"render.py: leaving out {d['kind']} {d['metadata']['name']} (podman cannot play it)",
                  file=sys.stderr)
            continue
        if d["kind"] in ("Deployment", "Pod"):
            spec = pod_spec(d)
            for c in spec.get("initContainers", []) + spec["containers"]:
                c["image"] = images.get(c["image"], c["image"])
            app = next(c for c in spec["containers"] if c["name"] == "app")
            if a.app_args:
                args = json.loads(a.app_args)
                cmd = app.get("command", [])
                app["command"] = cmd[: cmd.index("--") + 1] + args if "--" in cmd else args
            for e in a.env:
                cname, nv = e.split(":", 1)
                n, v = nv.split("=", 1)
                for c in spec.get("initContainers", []) + spec["containers"]:
                    if c["name"] == cname:
                        env = c.setdefault("env", [])
                        env[:] = [x for x in env if x["name"] != n] + [{"name": n, "value": v}]
            for r in a.arg_replace:
                old, new = r.split("=", 1)
                for c in spec.get("initContainers", []) + spec["containers"]:
                    c["command"] = [x.replace(old, new) for x in c.get("command", [])]
            for c in spec.get("initContainers", []) + spec["containers"]:
                if "command" in c:
                    c["command"] = [x for x in c["command"] if x not in a.drop_arg]
            for n in a.drop_volume:
                spec["volumes"] = [v for v in spec["volumes"] if v["name"] != n]
                for c in spec.get("initContainers", []) + spec["containers"]:
                    c["volumeMounts"] = [m for m in c.get("volumeMounts", []) if m["name"] != n]
            for c in spec.get("initContainers", []) + spec["containers"]:
                if a.no_ports:
                    c.pop("ports", None)
                if a.no_probes:
                    for p in ("livenessProbe", "readinessProbe", "startupProbe"):
                        c.pop(p, None)
            if a.restart_policy:
                spec["restartPolicy"] = a.restart_policy
            if a.no_init:
                spec.pop("initContainers", None)
                for v in spec["volumes"]:
                    if v["name"] == "oomless":
                        v.pop("emptyDir", None)
                        v["hostPath"] = {"path": a.no_init, "type": "Directory"}
        out.append(d)
    yaml.safe_dump_all(out, sys.stdout, sort_keys=False)


if __name__ == "__main__":
    main()
