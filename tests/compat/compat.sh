#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs one real program from a Debian package twice, plain and under LD_PRELOAD=liboomless.so, and fails
# when the outputs differ, either run fails or crashes, or the library did not actually get loaded.
# Usage: compat.sh CASE LIBOOMLESS [PROGRAM]
#   CASE: python | python-stdlib | sqlite | perl | git | gcc | redis | cxx (PROGRAM: the cxx-churn binary)
# Exit: 0 identical, 1 a difference or failure, 77 the program is not installed.
set -u
CASE=$1
LIB=$2
PROG=${3:-}
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d /tmp/oomless-compat-XXXXXX)
REDIS_PIDS=()

cleanup() {
        local p
        for p in "${REDIS_PIDS[@]}"; do
                kill "$p" 2>/dev/null
                wait "$p" 2>/dev/null
        done
        rm -rf "$T"
}
trap cleanup EXIT

fail() {
        echo "FAIL [$CASE]: $*" >&2
        exit 1
}

need() {
        local p
        for p in "$@"; do
                [ -x "$p" ] || { echo "SKIP: $p is not installed"; exit 77; }
        done
}

[ -f "$LIB" ] || fail "$LIB does not exist (build the oomless-alloc target)"
LIBNAME=$(basename "$LIB")

# check_run NAME RC ERRFILE: a run must exit 0, not die of a signal, and the preload must have worked.
check_run() {
        local name=$1 rc=$2 err=$3
        if grep -q "cannot be preloaded" "$err"; then
                fail "$name: the dynamic loader did not preload $LIB: $(head -c 300 "$err")"
        fi
        if [ "$rc" -ge 128 ]; then
                fail "$name: crashed with signal $((rc - 128)); stderr: $(tail -c 600 "$err")"
        fi
        if [ "$rc" -ne 0 ]; then
                fail "$name: exited with $rc; stderr: $(tail -c 600 "$err")"
        fi
}

# compare TAG CMD...: runs CMD plain and preloaded (each in its own cwd $T/TAG.plain|pre), compares stdout.
compare() {
        local tag=$1 rc
        shift
        mkdir -p "$T/$tag.plain" "$T/$tag.pre"
        (cd "$T/$tag.plain" && "$@") >"$T/$tag.plain.out" 2>"$T/$tag.plain.err"
        rc=$?
        check_run "$tag (plain run, the baseline)" $rc "$T/$tag.plain.err"
        (cd "$T/$tag.pre" && env LD_PRELOAD="$LIB" "$@") >"$T/$tag.pre.out" 2>"$T/$tag.pre.err"
        rc=$?
        check_run "$tag under LD_PRELOAD=$LIBNAME" $rc "$T/$tag.pre.err"
        if ! cmp -s "$T/$tag.plain.out" "$T/$tag.pre.out"; then
                diff -u "$T/$tag.plain.out" "$T/$tag.pre.out" | head -40 >&2
                fail "$tag: output under LD_PRELOAD differs from the plain run"
        fi
        [ -s "$T/$tag.pre.out" ] || fail "$tag: produced no output"
        echo "ok: $tag ($(wc -l <"$T/$tag.pre.out") identical lines)"
}

# The library must really be in the process: ld.so only warns when a preload fails.
assert_mapped() {
        need /usr/bin/python3
        local out
        out=$(LD_PRELOAD="$LIB" /usr/bin/python3 -c "import sys; print(any('$LIBNAME' in l for l in open('/proc/self/maps')))")
        [ "$out" = True ] || fail "$LIBNAME is not mapped in a preloaded process"
}

case_python() {
        need /usr/bin/python3
        assert_mapped
        compare python env PYTHONMALLOC=malloc /usr/bin/python3 "$HERE/alloc-heavy.py"
}

case_python_stdlib() {
        need /usr/bin/python3
        [ -f /usr/lib/python3.11/test/test_list.py ] ||
                { echo "SKIP: libpython3.11-testsuite is not installed"; exit 77; }
        assert_mapped
        local rc
        (cd "$T" && env LD_PRELOAD="$LIB" PYTHONMALLOC=malloc /usr/bin/python3 -m test test_list test_dict \
                test_set test_unicode test_bytes test_json test_re test_threading test_collections test_array) \
                >"$T/stdlib.out" 2>&1
        rc=$?
        tail -5 "$T/stdlib.out"
        check_run "python3 -m test under LD_PRELOAD" $rc "$T/stdlib.out"
        grep -q "Tests result: SUCCESS" "$T/stdlib.out" || fail "python3 -m test did not report SUCCESS"
}

case_sqlite() {
        need /usr/bin/sqlite3
        compare sqlite sh -c "/usr/bin/sqlite3 :memory: <'$HERE/workload.sql'"
        # The same on a file database, which adds the pager and the journal.
        compare sqlite-file sh -c "/usr/bin/sqlite3 db.sqlite <'$HERE/workload.sql' && /usr/bin/sqlite3 db.sqlite 'PRAGMA integrity_check; SELECT count(*) FROM t;'"
}

case_perl() {
        need /usr/bin/perl
        compare perl /usr/bin/perl "$HERE/hash-heavy.pl"
}

git_script() {
        export GIT_CONFIG_NOSYSTEM=1 HOME=$PWD GIT_AUTHOR_NAME=Compat GIT_AUTHOR_EMAIL=compat@example.org
        export GIT_COMMITTER_NAME=Compat GIT_COMMITTER_EMAIL=compat@example.org TZ=UTC
        git init -q -b main repo && cd repo || return 1
        for i in $(seq 1 30); do
                export GIT_AUTHOR_DATE="2026-01-01T00:00:$((i % 60))Z" GIT_COMMITTER_DATE="2026-01-01T00:00:$((i % 60))Z"
                seq $((i * 100)) | sed "s/^/line $i: /" >"file$((i % 7)).txt"
                printf '%s\n' $(seq $i 3 $((i * 50))) >>common.txt
                mkdir -p "dir$((i % 3))" && echo "$i" >"dir$((i % 3))/f$i"
                git add -A && git commit -q -m "commit $i" || return 1
        done
        git log --stat --format='%H %an %ad %s' --date=iso
        git diff HEAD~10 HEAD --stat
        git blame -s common.txt | tail -20
        git grep -n 'line 2[0-9]: 77' | head
        git gc --quiet --aggressive || return 1
        git fsck --full --no-progress || return 1
        git rev-list --objects --all | sort
        git count-objects -v | grep -E '^(count|in-pack|packs|garbage)'
        git cat-file -p HEAD
}

case_git() {
        need /usr/bin/git
        export -f git_script
        compare git bash -c git_script
}

case_gcc() {
        need /usr/bin/gcc /usr/bin/objdump
        # A large generated translation unit: many functions with loops, switches and inlining candidates.
        awk 'BEGIN {
                print "#include <string.h>\nstruct s { int a[16]; double d; char name[32]; };";
                for (i = 0; i < 400; i++) {
                        printf "static inline int g%d(int x) { return x * %d + (x >> %d); }\n", i, i % 13 + 1, i % 5;
                        printf "int f%d(struct s *p, int n) {\n  int acc = %d;\n  for (int i = 0; i < n; i++) {\n", i, i;
                        printf "    switch ((i + %d) %% 7) {\n    case 0: acc += g%d(p->a[i & 15]); break;\n", i, i;
                        printf "    case 1: acc ^= (int)(p->d * %d.0); break;\n    case 2: acc -= (int)strlen(p->name) + i; break;\n", i % 16;
                        printf "    case 3: p->a[(i + %d) & 15] = acc; break;\n    default: for (int j = 0; j < (i & 7); j++) acc += p->a[j] ^ j * %d;\n    }\n  }\n", i * 17, i % 5 + 1;
                        printf "  if (acc & 1) return f%d(p, n - 1) + acc;\n  return acc;\n}\n", (i > 0 ? i - 1 : 0);
                }
        }' >"$T/big.c"
        compare gcc sh -c "/usr/bin/gcc -O2 -c '$T/big.c' -o big.o && /usr/bin/objdump -d big.o | tail -n +3 | sha256sum && size big.o"
        cmp -s "$T/gcc.plain/big.o" "$T/gcc.pre/big.o" || fail "gcc: the object files differ"
        echo "ok: gcc object files are byte-identical"
}

free_port() {
        /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_redis DIR PRELOAD: starts redis-server on a free port, prints "PID PORT".
start_redis() {
        local dir=$1 preload=$2 port pid i
        mkdir -p "$dir"
        port=$(free_port)
        env ${preload:+LD_PRELOAD=$preload} /usr/bin/redis-server --port "$port" --bind 127.0.0.1 --save "" \
                --appendonly no --dir "$dir" --daemonize no >"$dir/log" 2>&1 &
        pid=$!
        REDIS_PIDS+=("$pid")
        for i in $(seq 200); do
                [ "$(/usr/bin/redis-cli -h 127.0.0.1 -p "$port" PING 2>/dev/null)" = PONG ] && break
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.05
        done
        [ "$(/usr/bin/redis-cli -h 127.0.0.1 -p "$port" PING 2>/dev/null)" = PONG ] ||
                fail "redis-server did not come up: $(tail -5 "$dir/log")"
        STARTED_PID=$pid
        STARTED_PORT=$port
}

# A fixed command sequence whose replies depend only on the data.
redis_script() {
        local port=$1 i v
        v=$(printf 'v%.0s' $(seq 1 60))
        {
                for i in $(seq 1 3000); do
                        echo "SET key:$i ${v:0:$((i % 50 + 1))}"
                        [ $((i % 10)) -eq 0 ] && echo "RPUSH list:$((i % 37)) a$i b$i c$i"
                        [ $((i % 7)) -eq 0 ] && echo "HSET hash:$((i % 11)) f$i $i"
                        [ $((i % 5)) -eq 0 ] && echo "ZADD zs $((i * 7919 % 1000)) m$i"
                done
                echo "DBSIZE"
                echo "STRLEN key:2999"
                echo "LRANGE list:3 0 -1"
                echo "HLEN hash:4"
                echo "ZRANGE zs 0 9 WITHSCORES"
                echo "APPEND key:1 tail"
                echo "GETRANGE key:1 0 -1"
                echo "DEL key:10 key:20 key:30"
                echo "DBSIZE"
                echo "FLUSHALL"
                echo "DBSIZE"
        } | /usr/bin/redis-cli -h 127.0.0.1 -p "$port"
}

stop_redis() {
        local pid=$1 port=$2 rc
        /usr/bin/redis-cli -h 127.0.0.1 -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1
        wait "$pid"
        rc=$?
        [ $rc -eq 0 ] || fail "redis-server (pid $pid) exited with $rc: $(tail -20 "$T/$3/log")"
}

case_redis() {
        need /usr/bin/redis-server /usr/bin/redis-cli /usr/bin/redis-benchmark /usr/bin/python3
        start_redis "$T/plain" ""
        local ppid=$STARTED_PID pport=$STARTED_PORT
        start_redis "$T/pre" "$LIB"
        local opid=$STARTED_PID oport=$STARTED_PORT
        grep -q "$LIBNAME" "/proc/$opid/maps" || fail "redis-server does not have $LIBNAME mapped"
        echo "ok: redis-server pid $opid on 127.0.0.1:$oport has $LIBNAME mapped; INFO says" \
                "$(/usr/bin/redis-cli -h 127.0.0.1 -p "$oport" INFO memory | tr -d '\r' | grep mem_allocator)"

        redis_script "$pport" >"$T/redis.plain.out" 2>&1
        redis_script "$oport" >"$T/redis.pre.out" 2>&1
        cmp -s "$T/redis.plain.out" "$T/redis.pre.out" ||
                { diff -u "$T/redis.plain.out" "$T/redis.pre.out" | head -40 >&2; fail "redis replies differ"; }
        echo "ok: redis replies identical ($(wc -l <"$T/redis.pre.out") lines)"

        /usr/bin/redis-benchmark -h 127.0.0.1 -p "$oport" -q -n 20000 -c 20 -P 8 -r 50000 -d 200 \
                -t set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100,mset \
                >"$T/bench.out" 2>&1 || fail "redis-benchmark failed: $(tail -5 "$T/bench.out")"
        tr '\r' '\n' <"$T/bench.out" | grep -v '^$' | grep -q -i -E 'error|fail' &&
                fail "redis-benchmark reported errors: $(grep -i -E 'error|fail' "$T/bench.out" | head -3)"
        [ "$(grep -c 'requests per second' "$T/bench.out")" -ge 14 ] ||
                fail "redis-benchmark did not finish all tests: $(tail -c 400 "$T/bench.out")"
        kill -0 "$opid" 2>/dev/null || fail "redis-server died during redis-benchmark: $(tail -20 "$T/pre/log")"
        [ "$(/usr/bin/redis-cli -h 127.0.0.1 -p "$oport" PING)" = PONG ] || fail "redis-server stopped answering"
        echo "ok: redis-benchmark ran 14 tests x 20000 requests without errors"

        stop_redis "$opid" "$oport" pre
        stop_redis "$ppid" "$pport" plain
        REDIS_PIDS=()
        grep -q -i -E 'crash|segmentation|assert' "$T/pre/log" && fail "redis-server log: $(grep -i -E 'crash|segm|assert' "$T/pre/log" | head -3)"
        echo "ok: redis-server shut down cleanly"
}

case_cxx() {
        [ -x "$PROG" ] || fail "cxx-churn binary '$PROG' missing"
        compare cxx "$PROG" 100000
        grep -q "misaligned 0" "$T/cxx.pre.out" || fail "aligned new returned misaligned memory"
        ! grep -q "misaligned [1-9]" "$T/cxx.pre.out" || fail "aligned new returned misaligned memory"
}

case "$CASE" in
python) case_python ;;
python-stdlib) case_python_stdlib ;;
sqlite) case_sqlite ;;
perl) case_perl ;;
git) case_git ;;
gcc) case_gcc ;;
redis) case_redis ;;
cxx) case_cxx ;;
*) fail "unknown case '$CASE'" ;;
esac
exit 0
