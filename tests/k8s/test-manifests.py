#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The contrib/k8s manifests keep the promises contrib/k8s/README.md makes, checked without a cluster:
every kustomization renders (render.py resolves resources as kustomize does); every container has a
memory limit, no privilege escalation, every capability dropped and none added, and runs as non-root;
the policies in the ConfigMaps are valid for this oomless (`oomless check`); the images are the tag
build-image.sh builds for this version; the native sidecar is the classic one moved to initContainers
with restartPolicy: Always and a startupProbe, nothing else; the sidecar's RBAC grants exactly what
--k8s-events uses. Usage: test-manifests.py OOMLESS"""
import copy
import os
import subprocess
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
K8S = os.path.normpath(os.path.join(HERE, "..", "..", "contrib", "k8s"))
sys.path.insert(0, HERE)
import render  # noqa: E402

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def pod_spec(d):
    return d["spec"]["template"]["spec"]


def main():
    oomless = sys.argv[1]
    version = subprocess.run([oomless, "--version"], capture_output=True, text=True,
                             check=True).stdout.split()[1]
    image = f"localhost/oomless:{version}"
    shapes = {}
    for shape in ("entrypoint", "sidecar/classic", "sidecar/native"):
        docs = render.load(os.path.join(K8S, shape))
        shapes[shape] = docs
        kinds = sorted(d["kind"] for d in docs)
        deps = [d for d in docs if d["kind"] == "Deployment"]
        check(len(deps) == 1, f"{shape}: one Deployment, got {kinds}")
        spec = pod_spec(deps[0])
        check(spec["securityContext"].get("runAsNonRoot") is True, f"{shape}: runAsNonRoot")
        check(spec["securityContext"].get("seccompProfile", {}).get("type") == "RuntimeDefault",
              f"{shape}: seccomp RuntimeDefault")
        check(spec.get("automountServiceAccountToken") is False,
              f"{shape}: no service-account token in every container")
        for c in spec.get("initContainers", []) + spec["containers"]:
            n = f"{shape}: container {c['name']}"
            sc = c.get("securityContext", {})
            check("memory" in c.get("resources", {}).get("limits", {}), f"{n}: a memory limit")
            check(sc.get("allowPrivilegeEscalation") is False, f"{n}: allowPrivilegeEscalation false")
            check(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{n}: drops ALL capabilities")
            check("add" not in sc.get("capabilities", {}), f"{n}: adds no capability")
            check(not sc.get("privileged"), f"{n}: not privileged")
            if c["image"].startswith("localhost/oomless"):
                check(c["image"] == image, f"{n}: image {c['image']}, build-image.sh builds {image}")
        for d in docs:
            if d["kind"] != "ConfigMap":
                continue
            with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
                f.write(d["data"]["policy.json"])
                f.flush()
                r = subprocess.run([oomless, "check", f.name], capture_output=True, text=True)
                check(r.returncode == 0, f"{shape}: ConfigMap {d['metadata']['name']}: {r.stdout}{r.stderr}")

    # The entrypoint: oomless run from the bundle, then "--" and the app.
    ep = pod_spec(next(d for d in shapes["entrypoint"] if d["kind"] == "Deployment"))
    app = next(c for c in ep["containers"] if c["name"] == "app")
    check(app["command"][:2] == ["/oomless/bin/oomless", "run"] and "--" in app["command"],
          f"entrypoint: the app's command is oomless run ... -- APP: {app['command']}")
    check("--listen=0.0.0.0:9090" in app["command"] and "--listen-public" in app["command"],
          "entrypoint: oomless listens on :9090 for the probes")
    check(app["readinessProbe"]["httpGet"]["path"] == "/readyz" and
          app["livenessProbe"]["httpGet"]["path"] == "/livez", "entrypoint: /readyz and /livez probes")

    # The native sidecar is the classic one, moved.
    classic = copy.deepcopy(pod_spec(next(d for d in shapes["sidecar/classic"] if d["kind"] == "Deployment")))
    native = copy.deepcopy(pod_spec(next(d for d in shapes["sidecar/native"] if d["kind"] == "Deployment")))
    side = next(c for c in classic["containers"] if c["name"] == "oomless")
    nside = next(c for c in native["initContainers"] if c["name"] == "oomless")
    check(nside.pop("restartPolicy", None) == "Always", "native: the sidecar has restartPolicy: Always")
    check(nside.pop("startupProbe", None) is not None, "native: the sidecar has a startupProbe")
    check(nside == side, "native: the sidecar container is the classic one")
    check([c["name"] for c in native["initContainers"]] == ["oomless-install", "oomless"],
          "native: oomless-install runs before the sidecar starts")
    classic["containers"] = [c for c in classic["containers"] if c["name"] != "oomless"]
    native["initContainers"] = [c for c in native["initContainers"] if c["name"] != "oomless"]
    check(classic == native, "native: the rest of the pod is the classic one")
    check(classic["shareProcessNamespace"] is True, "sidecar: shareProcessNamespace")
    cmd = side["command"]
    for arg in ("attach", "--follow", "--control-page=/oomless/control", "--k8s-events", "--listen-public"):
        check(arg in cmd, f"sidecar: {arg} in {cmd}")
    check(any(a.startswith("--wait=cmdline:") for a in cmd), "sidecar: --wait=cmdline:")
    env = {e["name"]: e for e in side["env"]}
    for n, path in (("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace"),
                    ("POD_UID", "metadata.uid")):
        check(env.get(n, {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == path,
              f"sidecar: {n} from the Downward API")
    appenv = {e["name"]: e.get("value") for e in
              next(c for c in classic["containers"] if c["name"] == "app")["env"]}
    check(appenv.get("LD_PRELOAD") == "/oomless/liboomless.so" and
          appenv.get("OOMLESS_CONTROL") == "/oomless/control", "sidecar: the app preloads liboomless")
    check(any(m["mountPath"] == "/var/run/secrets/kubernetes.io/serviceaccount" for m in side["volumeMounts"]),
          "sidecar: the token is mounted into the sidecar")
    app_mounts = [m["mountPath"] for c in classic["containers"] for m in c["volumeMounts"]]
    check("/var/run/secrets/kubernetes.io/serviceaccount" not in app_mounts, "sidecar: the app gets no token")

    role = next(d for d in shapes["sidecar/classic"] if d["kind"] == "Role")
    rules = sorted((tuple(r["apiGroups"]), tuple(r["resources"]), tuple(sorted(r["verbs"]))) for r in role["rules"])
    check(rules == [(("",), ("pods",), ("get",)), (("",), ("pods/status",), ("patch",)),
                    (("events.k8s.io",), ("events",), ("create", "patch"))], f"sidecar: RBAC rules {rules}")
    binding = next(d for d in shapes["sidecar/classic"] if d["kind"] == "RoleBinding")
    check(binding["subjects"][0]["name"] == classic["serviceAccountName"] and
          binding["roleRef"]["name"] == role["metadata"]["name"], "sidecar: the RoleBinding binds the pod's account")
    if failures:
        sys.exit(1)
    print("PASS: entrypoint, sidecar/classic, sidecar/native")


if __name__ == "__main__":
    main()
