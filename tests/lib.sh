# Shell library for the integration tests; each tests/*.test sources it.
#
# The environment (set by `make check`, or by hand):
#   MEMPROF      absolute path of the memprof binary
#   FIXTURES     absolute directory of the built fixture binaries
#   FIXTURE_SRC  absolute directory of the fixture sources
#   TESTS_LIB    this file
#
# Exit statuses, as automake wants them: 0 pass, 1 fail, 77 skip,
# 99 hard error (the test could not run at all).

set -u

: "${MEMPROF:?MEMPROF is not set}"
: "${FIXTURES:?FIXTURES is not set}"
: "${FIXTURE_SRC:?FIXTURE_SRC is not set}"

TEST_NAME=$(basename "$0" .test)
MIB=1048576

# The output of the last run_memprof: status, standard output and error.
status=
out=
err=

fail() {
	echo "FAIL: $TEST_NAME: $*" >&2
	if [ -n "$out" ] && [ -f "$out" ]; then
		echo "--- stdout of the last run:" >&2
		head -c 4000 "$out" >&2
	fi
	if [ -n "$err" ] && [ -f "$err" ]; then
		echo "--- stderr of the last run:" >&2
		head -c 8000 "$err" >&2
	fi
	exit 1
}

skip() {
	echo "SKIP: $TEST_NAME: $*" >&2
	exit 77
}

hard_error() {
	echo "ERROR: $TEST_NAME: $*" >&2
	exit 99
}

# A temporary directory per test, removed on exit.
TMP=$(mktemp -d "${TMPDIR:-/tmp}/memprof-$TEST_NAME.XXXXXX") ||
	hard_error "cannot make a temporary directory"
trap 'rm -rf "$TMP"' EXIT
trap 'exit 99' HUP INT TERM

out=$TMP/stdout
err=$TMP/stderr

[ -x "$MEMPROF" ] || hard_error "no memprof at $MEMPROF"
[ -d "$FIXTURES" ] || hard_error "no fixtures at $FIXTURES"
command -v python3 >/dev/null 2>&1 || skip "python3 is needed"
TIMEOUT=$(command -v timeout) || skip "timeout is needed"

# fixture NAME: the path of a built fixture, or a hard error.
fixture() {
	[ -x "$FIXTURES/$1" ] || hard_error "fixture $1 is not built (make fixtures)"
	printf '%s\n' "$FIXTURES/$1"
}

# run_memprof ARGS...: runs memprof under a timeout with standard input
# from /dev/null (or $STDIN if set); standard output goes to $out,
# standard error to $err, the exit status to $status.
run_memprof() {
	run_memprof_env "" "$@"
}

# run_memprof_env "NAME=VALUE ..." ARGS...: the same with these variables
# set in memprof's environment (values without spaces).
run_memprof_env() {
	_assign=$1
	shift
	status=0
	# shellcheck disable=SC2086
	env $_assign "$TIMEOUT" -k 10 60 "$MEMPROF" "$@" \
		<"${STDIN:-/dev/null}" >"$out" 2>"$err" || status=$?
	# 137: it did not even stop at the TERM of the timeout
	if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
		fail "memprof timed out (status $status): $*"
	fi
	# memprof says ptrace is not permitted (exit 4). That is a skip only
	# where a probe of our own finds it so (a container without
	# CAP_SYS_PTRACE, yama's ptrace_scope); otherwise it is memprof's
	# failure, and in CI, where ptrace works, always one.
	if [ "$status" -eq 4 ] && grep -qi ptrace "$err"; then
		[ "${CI:-}" != true ] ||
			fail "exit 4 (ptrace not permitted) in CI: $(head -n 1 "$err")"
		ptrace_forbidden ||
			fail "exit 4, but ptrace works here: $(head -n 1 "$err")"
		skip "ptrace is not permitted here: $(head -n 1 "$err")"
	fi
	return 0
}

# ptrace_forbidden: true when this environment refuses PTRACE_SEIZE of a
# process that is not our child (what attaching needs, the strictest).
ptrace_forbidden() {
	sleep 10 &
	_victim=$!
	python3 - "$_victim" <<'PYEOF'
import ctypes, errno, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p,
                        ctypes.c_void_p]
pid = int(sys.argv[1])
if libc.ptrace(0x4206, pid, None, None) == 0:  # PTRACE_SEIZE
    libc.ptrace(17, pid, None, None)  # PTRACE_DETACH
    sys.exit(1)
sys.exit(0 if ctypes.get_errno() == errno.EPERM else 1)
PYEOF
	_forbidden=$?
	kill "$_victim" 2>/dev/null
	wait "$_victim" 2>/dev/null
	return $_forbidden
}

# unchecked WHAT: part of a test cannot run here (a tool bootstrap
# installs is missing). In CI that is a failure; elsewhere the test goes
# on and ends with `finish`, which then skips, saying what was not
# checked.
UNCHECKED=
unchecked() {
	[ "${CI:-}" != true ] || fail "not checked in CI: $*"
	echo "not checked: $*" >&2
	UNCHECKED="$UNCHECKED${UNCHECKED:+; }$*"
}

# finish: the end of a test: a pass, or a skip when something was not
# checked.
finish() {
	[ -z "$UNCHECKED" ] || skip "not checked: $UNCHECKED"
	exit 0
}

# expect_status N: the last run exited with N.
expect_status() {
	[ "$status" -eq "$1" ] || fail "exit status $status, expected $1"
}

# expect_err_match REGEX: standard error of the last run matches.
expect_err_match() {
	grep -Eq -- "$1" "$err" || fail "stderr does not match /$1/"
}

# expect_out_match REGEX: standard output of the last run matches.
expect_out_match() {
	grep -Eq -- "$1" "$out" || fail "stdout does not match /$1/"
}

# py EXPR [FILE]: evaluates a Python expression; `j` is the parsed JSON
# of FILE (default: the last run's stderr, where the report goes), `mib`
# is 1 MiB, and fn(NAME) / line(F, N) find a function / a line record.
# Prints the value (booleans as true/false); fails the test on bad JSON.
py() {
	python3 - "$1" "${2:-$err}" <<'PYEOF' || fail "bad JSON or expression: $1"
import json, sys
expr, path = sys.argv[1], sys.argv[2]
with open(path) as f:
    j = json.load(f)
mib = 1 << 20
def fn(name, file=None):
    fs = [f for f in j["functions"] if f["name"] == name
          and (file is None or f["file"].endswith("/" + file))]
    if len(fs) != 1:
        raise SystemExit("function %s: %d tables" % (name, len(fs)))
    return fs[0]
def line(f, n):
    if isinstance(f, str):
        f = fn(f)
    ls = [l for l in f["lines"] if l["line"] == n]
    return ls[0] if ls else None
# a quarter MiB: a fresh block's pages, malloc's header page and the few
# pages of stack and library code the line touches besides
def near(x, target, tol=mib / 4):
    return abs(x - target) < tol
def conserved(f):
    return sum(l["increment"] for l in f["lines"]) == f["growth"]
v = eval(expr)
if v is True or v is False:
    print("true" if v else "false")
elif v is None:
    print("null")
else:
    print(v)
PYEOF
}

# json_get FILE EXPR: the value of a Python expression on the JSON of FILE.
json_get() {
	py "$2" "$1"
}

# check EXPR [FILE]: the Python expression is true, else the test fails.
check() {
	v=$(py "$1" "${2:-$err}") || exit 1
	[ "$v" = true ] || fail "not true: $1 (got: $v)"
}

# mib N: N MiB in bytes (N an integer).
mib() {
	echo $(($1 * MIB))
}

# line_of FILE REGEX: the number of the first line of FILE matching.
line_of() {
	n=$(grep -nE -- "$2" "$1" | head -n 1 | cut -d: -f1)
	[ -n "$n" ] || hard_error "no line /$2/ in $1"
	echo "$n"
}

# text_row FILE LINE: the row of text report FILE for source line LINE
# (the first such row).
text_row() {
	awk -v n="$2" '$1 == n { print; exit }' "$1"
}

# text_occ FILE LINE: the occurrences column of that row (empty if none).
# Columns: line, usage, "MiB", increment, "MiB", occurrences, contents.
text_occ() {
	text_row "$1" "$2" | awk '$3 == "MiB" && $5 == "MiB" { print $6 }'
}

# tcheck EXPR [FILE]: the Python expression is true of the text report in
# FILE (default: the last run's stderr), else the test fails. In EXPR,
# `t` is the list of tables in order, each a dict with "file" (the
# Filename), "rows" (dicts with line, mem, inc (MiB floats, None when
# blank), occ (int or None), contents, raw) and "notes" (lines after the
# rows); row(T, N) is the row of line N; src(T) the source file's lines.
tcheck() {
	v=$(python3 - "$1" "${2:-$err}" <<'PYEOF'
import re, sys
expr, path = sys.argv[1], sys.argv[2]
text = open(path).read().split("\n")
HEADER = "Line #    Mem usage    Increment  Occurrences   Line Contents"
t = []
cur = None
for i, l in enumerate(text):
    if l.startswith("Filename: "):
        cur = {"file": l[len("Filename: "):], "rows": [], "notes": [],
               "header": None, "rule": None, "blank_after_filename":
               i + 1 < len(text) and text[i + 1] == ""}
        t.append(cur)
        state = "head"
        continue
    if cur is None:
        continue
    if state == "head":
        if l == HEADER:
            cur["header"] = l
        elif l.startswith("="):
            cur["rule"] = l
            state = "rows"
        continue
    if state == "rows":
        m = re.match(r"^( {0,5}\d+) (.{12}) (.{12})  (.{10})   (.*)$", l)
        if m and len(m.group(1)) == 6:
            def mibval(s):
                s = s.strip()
                if not s:
                    return None
                assert s.endswith(" MiB"), s
                return float(s[:-4])
            occ = m.group(4).strip()
            cur["rows"].append({"line": int(m.group(1)),
                                "mem": mibval(m.group(2)),
                                "inc": mibval(m.group(3)),
                                "occ": int(occ) if occ else None,
                                "contents": m.group(5), "raw": l})
            continue
        if re.match(r"^ {0,5}\d+ *$", l) and len(l) >= 6:
            # a blank source line with no figures: the row may be cut short
            cur["rows"].append({"line": int(l.strip()), "mem": None,
                                "inc": None, "occ": None, "contents": "",
                                "raw": l})
            continue
        if l.strip():
            cur["notes"].append(l)
def row(tb, n):
    rs = [r for r in tb["rows"] if r["line"] == n]
    return rs[0] if rs else None
def src(tb):
    return open(tb["file"]).read().split("\n")
# in MiB, a quarter of one as in py
def near(x, target, tol=0.25):
    return x is not None and abs(x - target) < tol
v = eval(expr)
print("true" if v is True else repr(v))
PYEOF
) || fail "cannot evaluate on the text report: $1"
	[ "$v" = true ] || fail "not true: $1 (got: $v)"
}
