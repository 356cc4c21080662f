#!/bin/sh
# make check-mutants: puts the single-line bugs of tests/mutants.list into
# a copy of the tree, one at a time, and runs the suite on each. A bug the
# suite fails on is caught; one it passes survived. Prints a table of
# them (markdown) and a total.
#
#   tests/mutants.sh [NAME...]     only the mutations named
#
# The environment: MUTANTS_LIST (default tests/mutants.list),
# MUTANTS_TIMEOUT (seconds a suite may take, default 900), MUTANTS_JOBS
# (make -j, default 2), MUTANTS_KEEP=1 keeps the copy, MUTANTS_TESTS sets
# TESTS for a quicker partial run (then not the whole suite: say so).
set -u

srcdir=$(cd "$(dirname "$0")/.." && pwd)
list=${MUTANTS_LIST:-$srcdir/tests/mutants.list}
limit=${MUTANTS_TIMEOUT:-900}
jobs=${MUTANTS_JOBS:-2}

[ -r "$list" ] || { echo "mutants: $list: cannot read" >&2; exit 2; }
command -v python3 >/dev/null || { echo "mutants: python3 is needed" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/memprof-mutants.XXXXXX") || exit 2
if [ "${MUTANTS_KEEP:-}" != 1 ]; then
	trap 'rm -rf "$work"' EXIT
fi
trap 'exit 2' HUP INT TERM
tree=$work/tree

say() {
	echo "mutants: $*" >&2
}

# The tree as it is now (uncommitted changes too), without build products.
mkdir -p "$tree"
(cd "$srcdir" && git ls-files -z --cached --others --exclude-standard) |
	(cd "$srcdir" && tar --null -T - -cf -) | (cd "$tree" && tar -xf -) ||
	{ say "cannot copy $srcdir (a git checkout is needed)"; exit 2; }

# suite: builds and runs the suite in the copy; 0 pass, 1 fail, 2 no
# build, 3 timeout. The failing tests go to $work/failed.
suite() {
	: >"$work/failed"
	(cd "$tree" && make -j"$jobs" -s >"$work/build.log" 2>&1) || return 2
	rm -f "$tree"/tests/*.trs "$tree"/tests/unit/*.trs
	if [ -n "${MUTANTS_TESTS:-}" ]; then
		(cd "$tree" && timeout -k 10 "$limit" make -j"$jobs" -s check \
			TESTS="$MUTANTS_TESTS" >"$work/check.log" 2>&1)
	else
		(cd "$tree" && timeout -k 10 "$limit" make -j"$jobs" -s check \
			>"$work/check.log" 2>&1)
	fi
	st=$?
	for trs in "$tree"/tests/*.trs "$tree"/tests/unit/*.trs; do
		[ -f "$trs" ] || continue
		if grep -qE '^:test-result: (FAIL|ERROR)' "$trs"; then
			t=${trs#"$tree"/}
			echo "${t%.trs}" >>"$work/failed"
		fi
	done
	[ "$st" -eq 124 ] || [ "$st" -eq 137 ] && return 3
	[ "$st" -eq 0 ] && return 0
	return 1
}

say "building the copy in $tree"
(cd "$tree" && ./bootstrap >/dev/null 2>&1 &&
	./configure -q --enable-werror >"$work/configure.log" 2>&1) ||
	{ say "the copy does not configure: $(tail -n 5 "$work/configure.log")"; exit 2; }
say "the suite without mutations"
suite
case $? in
0) ;;
*)
	say "the suite fails without mutations: $(tr '\n' ' ' <"$work/failed")"
	exit 2
	;;
esac

# The records of the list, one a line: NAME TAB FILE TAB ORIGINAL TAB NEW.
python3 - "$list" >"$work/records" <<'PY' || { say "bad list $list"; exit 2; }
import sys
recs, cur = [], None
for n, l in enumerate(open(sys.argv[1]), 1):
    l = l.rstrip("\n")
    if not l.strip() or l.startswith("#"):
        continue
    if l.startswith("- ") and cur and len(cur) == 2:
        cur.append(l[2:].strip())
    elif l.startswith("+ ") and cur and len(cur) == 3:
        cur.append(l[2:].strip())
        recs.append(cur)
        cur = None
    elif not l.startswith(("- ", "+ ")) and cur is None and len(l.split()) == 2:
        cur = l.split()
    else:
        raise SystemExit("%s:%d: not a record line: %s" % (sys.argv[1], n, l))
if cur is not None:
    raise SystemExit("%s: the last record is not whole" % sys.argv[1])
for r in recs:
    if any("\t" in f for f in r):
        raise SystemExit("tabs in %s" % r[0])
    print("\t".join(r))
PY

# apply FILE ORIGINAL NEW: replaces the one line of FILE that is ORIGINAL
# (indentation aside) by NEW with its indentation. 0, or 1 when no line
# or several are ORIGINAL.
apply() {
	python3 - "$@" <<'PY'
import sys
path, old, new = sys.argv[1:]
lines = open(path).read().split("\n")
at = [i for i, l in enumerate(lines) if l.strip() == old]
if len(at) != 1:
    sys.exit(1)
l = lines[at[0]]
lines[at[0]] = l[:len(l) - len(l.lstrip())] + new
open(path, "w").write("\n".join(lines))
PY
}

wanted() {
	[ $# -eq 0 ] && return 0
	for w; do
		[ "$w" = "$name" ] && return 0
	done
	return 1
}

caught=0
survived=0
inapplicable=0
nobuild=0
echo "| Mutation | File | Result | Failing tests |"
echo "|---|---|---|---|"
tab=$(printf '\t')
while IFS=$tab read -r name file old new; do
	wanted "$@" || continue
	if [ ! -f "$tree/$file" ]; then
		echo "| $name | $file | not applicable (no file) | |"
		inapplicable=$((inapplicable + 1))
		continue
	fi
	cp "$tree/$file" "$work/original"
	if ! apply "$tree/$file" "$old" "$new"; then
		echo "| $name | $file | not applicable (line not there) | |"
		inapplicable=$((inapplicable + 1))
		continue
	fi
	say "$name"
	suite </dev/null
	st=$?
	failed=$(sed 's|^tests/||' "$work/failed" | tr '\n' ' ' | sed 's/ $//')
	case $st in
	0)
		echo "| $name | $file | **survived** | |"
		survived=$((survived + 1))
		;;
	1)
		echo "| $name | $file | caught | $failed |"
		caught=$((caught + 1))
		;;
	2)
		echo "| $name | $file | does not build | |"
		nobuild=$((nobuild + 1))
		;;
	3)
		echo "| $name | $file | caught (timeout) | $failed |"
		caught=$((caught + 1))
		;;
	esac
	# back as it was; the copy is newer than the objects, so it rebuilds
	cat "$work/original" >"$tree/$file"
	touch "$tree/$file"
done <"$work/records"
echo
echo "$caught caught, $survived survived, $inapplicable not applicable, $nobuild do not build"
[ "$survived" -eq 0 ]
