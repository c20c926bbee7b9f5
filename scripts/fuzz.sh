#!/usr/bin/env bash
# Runs every Go fuzz target of the module, one at a time, for the given time
# each, and prints the executions of each target and their total.
#
#   scripts/fuzz.sh [FUZZTIME] [PACKAGE...]
#
# FUZZTIME is go test's -fuzztime (default 3s; "60s", "2m", or "5000x" for a
# count). PACKAGES default to ./... .
#
# Each package with a fuzz target (a test file of it, as `go list` selects
# them, declares func Fuzz...(f *testing.F)) is compiled once with fuzzing
# instrumentation (go test -c -fuzz); its targets are then listed by the test
# binary itself (-test.list '^Fuzz'), so a new target is never left out, and
# run one by one (go fuzzes one target per run).
#
# The corpus a run adds goes to go's fuzz cache ($GOCACHE/fuzz/<package>, the
# one `go test -fuzz` uses), so long runs build on each other. With
# FUZZCORPUS=fresh it goes to a temporary directory instead: a short run then
# starts from the seeds and testdata only, and takes the same time however
# large the cache has grown (make test does this).
#
# A failing target leaves its input in that package's testdata/fuzz/<Target>/
# (commit it: plain `go test` then runs it as a regression test); the script
# prints the failure, runs the other targets, and exits 1.
set -uo pipefail

fuzztime=${1:-3s}
shift || true
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)

cd "$(dirname "$0")/.." || exit 2
GO=${GO:-go}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
case ${FUZZCORPUS:-cache} in
fresh) cachebase=$work/corpus ;;
cache) cachebase=$($GO env GOCACHE)/fuzz ;;
*)
	echo "fuzz: FUZZCORPUS must be cache or fresh, not ${FUZZCORPUS}" >&2
	exit 2
	;;
esac

start=$SECONDS
total=0
ntargets=0
failed=()
flaked=()
header=0
row() { printf '| %-24s | %-28s | %12s | %-6s |\n' "$@"; }

while IFS='|' read -r dir pkg files; do
	[ -n "$files" ] || continue
	fuzzfiles=()
	for f in ${files//,/ }; do
		grep -qE '^func Fuzz[A-Za-z0-9_]*\([A-Za-z_][A-Za-z0-9_]* \*testing\.F\)' "$dir/$f" && fuzzfiles+=("$f")
	done
	[ ${#fuzzfiles[@]} -gt 0 ] || continue
	bin=$work/$(echo "$pkg" | tr '/' '_').test
	if ! out=$($GO test -c -fuzz '^Fuzz' -o "$bin" "$pkg" 2>&1); then
		echo "fuzz: cannot build the fuzz test binary of $pkg:" >&2
		echo "$out" >&2
		failed+=("$pkg")
		continue
	fi
	if ! names=$(cd "$dir" && "$bin" -test.list '^Fuzz' 2>&1); then
		echo "fuzz: cannot list the fuzz targets of $pkg:" >&2
		echo "$names" >&2
		failed+=("$pkg")
		continue
	fi
	for name in $names; do
		[[ $name == Fuzz* ]] || continue
		if [ $header = 0 ]; then
			echo "fuzz: -fuzztime $fuzztime per target, corpus ${FUZZCORPUS:-cache}"
			row target package executions result
			echo "|--------------------------|------------------------------|-------------:|--------|"
			header=1
		fi
		ntargets=$((ntargets + 1))
		log=$work/$name.log
		inputs=$(ls "$dir/testdata/fuzz/$name" 2>/dev/null | wc -l)
		(cd "$dir" && "$bin" -test.run '^$' -test.fuzz "^${name}\$" -test.fuzztime "$fuzztime" \
			-test.fuzzcachedir "$cachebase/$pkg" -test.timeout 60m) >"$log" 2>&1
		rc=$?
		# The binary prints "fuzz: elapsed: 3s, execs: 12345 (4115/sec), ..."
		# every 3 s and once at the end; the last one is the count.
		execs=$(grep -oE 'execs: [0-9]+' "$log" | tail -n1 | grep -oE '[0-9]+')
		execs=${execs:-0}
		total=$((total + execs))
		if [ $rc -eq 0 ]; then
			row "$name" "${pkg#coordlab/}" "$execs" ok
		elif [ "$(ls "$dir/testdata/fuzz/$name" 2>/dev/null | wc -l)" -eq "$inputs" ] &&
			[ "$(grep -v '^fuzz: elapsed' "$log" | grep -cvE '^(--- FAIL: '"$name"' \(|    context deadline exceeded$|FAIL$)')" -eq 0 ]; then
			# Go's fuzz coordinator (go1.26; golang/go#75804, fixed in
			# go1.27) can report its own -fuzztime deadline as a failure
			# when a worker answers late on a loaded machine. No input was
			# written and nothing else failed: not a finding.
			row "$name" "${pkg#coordlab/}" "$execs" "ok*"
			flaked+=("$name")
		else
			row "$name" "${pkg#coordlab/}" "$execs" FAIL
			failed+=("$name")
			grep -v '^fuzz: elapsed' "$log" | tail -n 40 | sed 's/^/    /'
		fi
	done
done < <($GO list -f '{{.Dir}}|{{.ImportPath}}|{{join .TestGoFiles ","}},{{join .XTestGoFiles ","}}' "${pkgs[@]}")

if [ $ntargets -eq 0 ] && [ ${#failed[@]} -eq 0 ]; then
	echo "fuzz: no fuzz targets in ${pkgs[*]}" >&2
	exit 1
fi
if [ ${#flaked[@]} -gt 0 ]; then
	echo "ok*: go's fuzz coordinator reported its own deadline (golang/go#75804) and no input failed: ${flaked[*]}"
fi
echo "fuzz: $ntargets targets, $total executions in $((SECONDS - start))s, ${#failed[@]} failed${failed:+: ${failed[*]}}"
[ ${#failed[@]} -eq 0 ]
