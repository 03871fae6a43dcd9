#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Keeps docs/policy.schema.json in agreement with the parser.

- every shipped example and valid fixture validates against the schema, and so does the parser's
  normalized output of each (policy-print, the same code as `oomless check --print`) and of the
  built-in default;
- invalid fixtures with structural problems (unknown keys, wrong types, unknown actions) are rejected
  by the schema too;
- every property name the schema lists is used by some input the parser accepted, so the schema
  cannot document keys the parser does not know.

Uses the `jsonschema` module when installed, and always a small built-in validator for the subset of
JSON Schema the file uses (both must agree)."""
import argparse
import glob
import json
import os
import re
import subprocess
import sys

# Invalid fixtures whose problems are structural, so the schema alone must reject them.
SCHEMA_MUST_REJECT = [
    "not-an-object", "missing-version-and-stages", "wrong-version", "wrong-types", "unknown-keys",
    "unknown-action-and-signal", "psi-trigger", "huge-and-negative", "http",
]


class MiniValidator:
    """The subset of draft 2020-12 used by policy.schema.json."""

    TYPES = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
    }
    KNOWN = {"$schema", "$id", "title", "description", "$defs", "$ref", "type", "const", "enum", "pattern",
             "minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems", "items", "prefixItems",
             "properties", "required", "additionalProperties", "oneOf", "anyOf", "maxProperties",
             "propertyNames"}

    def __init__(self, schema):
        self.root = schema
        self._check_keywords(schema)

    def _check_keywords(self, s):
        if isinstance(s, dict):
            unknown = set(s) - self.KNOWN
            if unknown and "action" not in s and "memory" not in s:
                raise SystemExit(f"schema uses keywords the mini validator does not know: {unknown}")
            for k, v in s.items():
                if k in ("properties", "$defs"):
                    for sub in v.values():
                        self._check_keywords(sub)
                elif k not in ("const", "enum", "required"):
                    self._check_keywords(v)
        elif isinstance(s, list):
            for v in s:
                self._check_keywords(v)

    def errors(self, v, s=None, path="$"):
        s = self.root if s is None else s
        if "$ref" in s:
            name = s["$ref"].split("/")[-1]
            yield from self.errors(v, self.root["$defs"][name], path)
        if "type" in s and not self.TYPES[s["type"]](v):
            yield f"{path}: not of type {s['type']}"
            return
        if "const" in s and not (v == s["const"] and type(v) == type(s["const"])):
            yield f"{path}: not {s['const']!r}"
        if "enum" in s and v not in s["enum"]:
            yield f"{path}: not one of {s['enum']}"
        if isinstance(v, str):
            if "pattern" in s and not re.search(s["pattern"], v):
                yield f"{path}: {v!r} does not match {s['pattern']}"
            if len(v) < s.get("minLength", 0) or len(v) > s.get("maxLength", 1 << 62):
                yield f"{path}: bad length"
        if isinstance(v, int) and not isinstance(v, bool):
            if v < s.get("minimum", -(1 << 64)) or v > s.get("maximum", 1 << 64):
                yield f"{path}: {v} out of range"
        if isinstance(v, list):
            if len(v) < s.get("minItems", 0) or len(v) > s.get("maxItems", 1 << 62):
                yield f"{path}: bad number of items"
            pre = s.get("prefixItems", [])
            for i, item in enumerate(v):
                if i < len(pre):
                    yield from self.errors(item, pre[i], f"{path}[{i}]")
                if "items" in s:
                    yield from self.errors(item, s["items"], f"{path}[{i}]")
        if isinstance(v, dict):
            for r in s.get("required", []):
                if r not in v:
                    yield f"{path}: missing {r}"
            props = s.get("properties", {})
            extra = s.get("additionalProperties", True)
            if len(v) > s.get("maxProperties", 1 << 62):
                yield f"{path}: too many keys"
            for k, item in v.items():
                if "propertyNames" in s:
                    yield from self.errors(k, s["propertyNames"], f"{path}.{k} (name)")
                if k in props:
                    yield from self.errors(item, props[k], f"{path}.{k}")
                elif extra is False:
                    yield f"{path}: unknown key {k}"
                elif isinstance(extra, dict):
                    yield from self.errors(item, extra, f"{path}.{k}")
        if "oneOf" in s:
            ok = sum(1 for sub in s["oneOf"] if not any(True for _ in self.errors(v, sub, path)))
            if ok != 1:
                yield f"{path}: matches {ok} of oneOf"
        if "anyOf" in s:
            if not any(not any(True for _ in self.errors(v, sub, path)) for sub in s["anyOf"]):
                yield f"{path}: matches none of anyOf"


def property_names(s, out):
    if isinstance(s, dict):
        for k, v in s.items():
            if k == "properties":
                out.update(v.keys())
            property_names(v, out)
    elif isinstance(s, list):
        for v in s:
            property_names(v, out)
    return out


def used_keys(doc, out):
    if isinstance(doc, dict):
        out.update(doc.keys())
        for v in doc.values():
            used_keys(v, out)
    elif isinstance(doc, list):
        for v in doc:
            used_keys(v, out)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--schema", required=True)
    ap.add_argument("--tool", required=True, help="policy-print binary, or oomless")
    ap.add_argument("--print-args", default="", help="arguments before FILE that make --tool print the "
                    "normalized policy (\"check --print\" for oomless)")
    ap.add_argument("--default-args", default="--default", help="arguments that make --tool print the "
                    "built-in policy (\"check --print-default\" for oomless)")
    ap.add_argument("--invalid", required=True, help="directory of invalid fixtures")
    ap.add_argument("inputs", nargs="+", help="valid policy files or directories")
    a = ap.parse_args()

    schema = json.load(open(a.schema))
    validators = [("mini", lambda d: list(MiniValidator(schema).errors(d)))]
    try:
        import jsonschema
        jsonschema.Draft202012Validator.check_schema(schema)
        v = jsonschema.Draft202012Validator(schema)
        validators.append(("jsonschema", lambda d: [f"{e.json_path}: {e.message}" for e in v.iter_errors(d)]))
    except ImportError:
        print("note: python3 jsonschema module not installed; using the built-in validator only")

    failures = 0
    seen_keys = set()

    def check(label, doc, want_valid=True):
        nonlocal failures
        for name, fn in validators:
            errs = fn(doc)
            if bool(errs) == want_valid:
                failures += 1
                print(f"FAIL {label} [{name}]: " + ("; ".join(errs[:5]) if errs else "accepted, expected rejection"))
                return
        print(f"ok   {label}")

    files = []
    for i in a.inputs:
        files += sorted(glob.glob(os.path.join(i, "*.json"))) if os.path.isdir(i) else [i]
    for f in files:
        doc = json.load(open(f))
        check(f, doc)
        out = subprocess.run([a.tool, *a.print_args.split(), f], capture_output=True, text=True)
        if out.returncode != 0:
            failures += 1
            print(f"FAIL {f}: the parser rejects it:\n{out.stderr}")
            continue
        used_keys(doc, seen_keys)
        printed = json.loads(out.stdout)
        used_keys(printed, seen_keys)
        check(f + " (--print)", printed)
    out = subprocess.run([a.tool, *a.default_args.split()], capture_output=True, text=True, check=True)
    check("built-in default (--print-default)", json.loads(out.stdout))

    for name in SCHEMA_MUST_REJECT:
        f = os.path.join(a.invalid, name + ".json")
        check(f + " (must be rejected)", json.load(open(f)), want_valid=False)

    unused = property_names(schema, set()) - seen_keys
    if unused:
        failures += 1
        print(f"FAIL schema lists keys no accepted input uses: {sorted(unused)}")

    print(f"{failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
