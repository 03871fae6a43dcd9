#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Logs a pipeline can parse, and the summary at the end of a run (issue 10, sections 2 and 3).

With --log-format=json every line oomless writes is one JSON object (parsed here by Python's json,
line by line) with the fixed keys time (RFC 3339 UTC, milliseconds), level, message and
supervisor_pid, plus the event's fields: the start, both stage transitions, each action's outcome,
the stop signal sent to the workload, its exit, and last the summary with duration, peaks, time per
stage, actions by kind and outcome, restarts, OOM kills and the exit status and why. In text mode the
summary is one timestamped line with the same figures."""
import json
import re

import e2elib as E
from e2elib import check, mib

RATE = mib(16)
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LEVELS = {"debug", "info", "notice", "warning", "error"}


def parse_json_log(path, pid):
    records = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            check(line.endswith("\n"), f"line {n} is not terminated: {line!r}")
            try:
                r = json.loads(line)
            except ValueError as e:
                raise E.Failure(f"line {n} of the JSON log is not JSON ({e}): {line!r}")
            check(isinstance(r, dict), f"line {n} is not an object: {line!r}")
            check(isinstance(r.get("time"), str) and TIME_RE.match(r["time"]), f"line {n}: time {r.get('time')!r}")
            check(r.get("level") in LEVELS, f"line {n}: level {r.get('level')!r}")
            check(isinstance(r.get("message"), str) and r["message"], f"line {n}: message {r.get('message')!r}")
            check(r.get("supervisor_pid") == pid, f"line {n}: supervisor_pid {r.get('supervisor_pid')!r}")
            records.append(r)
    check(records, "the JSON log is empty")
    return records


def events(records, name):
    return [r for r in records if r.get("event") == name]


def body(ctx):
    ctx.require_tier()
    pol = ctx.write_policy("logs.json", E.policy(
        "e2e-logs",
        [E.stage("warn", E.cond(E.mem_ge("24M")), E.cond(E.mem_lt("8M")), on_enter=[E.a_exec(["/bin/true"])]),
         E.stage("high", E.cond(E.mem_ge("48M")), E.cond(E.mem_lt("16M")), on_enter=[E.a_exec(["/bin/false"])])],
        interval="100ms", restart=E.restart_policy("never")))
    cmd = E.balloon_cmd(ctx, "--rate", str(RATE), "--step", "256K", "--max", "64M", "--hold", "inf")
    s = E.Oomless(ctx, "logs", ["--policy", pol, "--memory-max", "256M", "--log-format=json"], cmd).start()
    st = s.wait_status(lambda st: st["policy"]["stage"] == 2, timeout=30, what="stage 2")
    leaf = st["leaf"]
    s.wait_status(lambda st: len(st["policy"]["recent_actions"]) >= 2, timeout=10, what="two action outcomes")
    rc = s.stop()
    check(rc == 143, f"oomless exited {rc}, expected 143 (SIGTERM)")

    recs = parse_json_log(s.log_path, s.pid)
    ctx.note(f"{len(recs)} JSON log lines; events {[r.get('event') for r in recs if 'event' in r]}")

    start = events(recs, "start")
    check(len(start) == 1, f"start records: {start}")
    check(start[0]["command"] == cmd and start[0]["leaf"] == leaf and start[0]["mode"] == "run",
          f"start record: {start[0]}")
    check(re.match(r"^[0-9a-f]{32}$", start[0]["instance_id"]), f"instance_id {start[0]['instance_id']!r}")
    check(start[0]["instance_id"] == st["instance_id"], "the start record and status disagree on the instance id")

    # Once SIGTERM went to the workload its memory falls, but the policy no longer decides: no stage is
    # left (or entered) while the workload is being stopped for good.
    first_stop = next((i for i, r in enumerate(recs) if r.get("event") == "stop"), len(recs))
    stages = events(recs[:first_stop], "stage")
    check([(r["previous_stage"], r["stage"], r["stage_name"]) for r in stages] == [(0, 1, "warn"), (1, 2, "high")],
          f"stage records: {stages}")
    check(not events(recs[first_stop:], "stage"),
          f"stage records while the workload was being stopped: {events(recs[first_stop:], 'stage')}")
    check(stages[0]["memory_current"] >= mib(24) and stages[1]["memory_current"] >= mib(48),
          f"memory in the stage records: {[r['memory_current'] for r in stages]}")
    check(stages[0]["memory_limit"] == mib(256) and stages[0]["level"] == "notice", f"stage record {stages[0]}")

    acts = [(r["action"], r["stage"], r["when"], r["outcome"]) for r in events(recs, "action")]
    check(acts == [("exec", 1, "enter", "ok"), ("exec", 2, "enter", "failed")], f"action records: {acts}")

    stop = events(recs, "stop")
    check(stop and stop[0]["signal"] == "SIGTERM", f"stop records: {stop}")
    ex = events(recs, "exit")
    check(len(ex) == 1 and ex[0]["exit_status"] == 143 and ex[0]["signal"] == "SIGTERM" and
          ex[0]["oom_killed"] is False, f"exit records: {ex}")

    summ = recs[-1]
    ctx.note(f"summary: {json.dumps(summ)}")
    check(summ.get("event") == "summary" and summ["level"] == "notice", f"the last line is not the summary: {summ}")
    check(summ["exit_status"] == 143 and "SIGTERM" in summ["exit_reason"], f"exit in the summary: {summ}")
    check(summ["mode"] == "run" and summ["restarts"] == 0 and summ["oom_kills"] == 0, f"summary: {summ}")
    check(summ["duration_sec"] > 1.0, f"duration {summ['duration_sec']}")
    check(summ["peak_memory"] >= mib(48), f"peak memory {summ['peak_memory']}")
    check(mib(40) <= summ["peak_working_set"] <= summ["peak_memory"],
          f"peak working set {summ['peak_working_set']} vs peak memory {summ['peak_memory']}")
    secs = summ["stage_seconds"]
    check(set(secs) == {"normal", "warn", "high"}, f"stage_seconds {secs}")
    check(secs["warn"] > 0.3 and secs["high"] > 0 and secs["normal"] > 0, f"stage_seconds {secs}")
    check(abs(sum(secs.values()) - summ["duration_sec"]) < 1.0 + ctx.slack,
          f"stage_seconds {secs} do not add up to the duration {summ['duration_sec']}")
    check(summ["actions"] == {"exec": {"ok": 1, "failed": 1}} and summ["actions_total"] == 2,
          f"actions in the summary: {summ['actions']}")

    # Text mode: the same summary, as one timestamped line, the last one.
    t = E.Oomless(ctx, "text", ["--policy", pol], ["/bin/sh", "-c", "sleep 0.5; exit 3"]).start()
    t.wait(30)
    rc = t.rc
    check(rc == 3, f"text run exited {rc}, expected 3")
    with open(t.log_path) as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    ctx.note(f"text summary: {lines[-1]}")
    check(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z oomless\[%d\]: Summary: ran [0-9.]+s; peak memory "
                   r"[0-9.]+[KMG]?i?B?, peak working set [0-9.]+[KMG]?i?B?; stages normal [0-9.]+s, warn 0\.0s, "
                   r"high 0\.0s; actions none; restarts 0; kernel OOM kills 0; exit status 3: the workload exited "
                   r"with status 3\.$" % t.pid, lines[-1]), f"the text summary line: {lines[-1]!r}")
    check(all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z oomless\[\d+\]: ", l) for l in lines),
          f"a text line without its timestamp: {lines}")


if __name__ == "__main__":
    E.main(body)
