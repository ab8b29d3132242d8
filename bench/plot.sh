#!/bin/sh
# bench/plot.sh: bench/results/latency.png, the latency CDF per rate (raw client vs bridge,
# and ZeroMQ alone dotted), one panel per transport, from bench/results/latest.json (or the
# JSON file given).
#   ./bench/plot.sh [RESULTS.json]
# Needs gnuplot (Debian: gnuplot-nox). When it is missing: as root it is installed with
# apt-get, otherwise the apt-get line is printed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
json=${1:-$here/results/latest.json}
png=$here/results/latency.png
if ! command -v gnuplot >/dev/null; then
	if [ "$(id -u)" = 0 ]; then
		apt-get install -y --no-install-recommends gnuplot-nox >/dev/null
	else
		echo "plot.sh: gnuplot is missing: sudo apt-get install -y gnuplot-nox" >&2
		exit 1
	fi
fi
[ -r "$json" ] || { echo "plot.sh: no results file $json (run bench/run.sh first)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# One data file per transport/rate/client (latency_us fraction), and the gnuplot plot lines.
/usr/bin/python3 - "$json" "$tmp" <<'PY'
import json, os, sys
res = json.load(open(sys.argv[1]))
out = sys.argv[2]
panels = []


def dat(name, pts):
    """Writes (latency_us, fraction) points to out/name; returns the path."""
    f = os.path.join(out, name)
    with open(f, "w") as fh:
        for us, q in pts:
            fh.write(f"{max(us, 0.1)} {q}\n")
    return f


for t, tr in res["transports"].items():
    lines = []
    for i, (rate, by) in enumerate(tr["cdf"].items()):
        for who, pts in by.items():
            if not pts:
                continue
            f = dat(f"{t}-{rate}-{who}.dat", pts)
            dash = 1 if who == "bridge" else 2
            lines.append(f"'{f}' using 1:2 with lines lw 2 dt {dash} lc {i + 1} "
                         f"title '{who} {rate}/s'")
        # the same rate through ZeroMQ alone (no WebSocket, no bridge), dotted
        pts = res.get("zmq_floor", {}).get("cdf", {}).get(rate)
        if pts:
            f = dat(f"zmq-{rate}.dat", pts)
            lines.append(f"'{f}' using 1:2 with lines lw 1 dt 3 lc {i + 1} "
                         f"title 'ZeroMQ alone {rate}/s'")
    panels.append(f"set title '{t}: latency CDF, send to receipt ({res['timestamp']})'\n"
                  "plot " + ", \\\n     ".join(lines))
with open(os.path.join(out, "panels.gp"), "w") as fh:
    fh.write("\n".join(panels) + "\n")
with open(os.path.join(out, "n"), "w") as fh:
    fh.write(str(len(panels)))
PY
n=$(cat "$tmp/n")
term="pngcairo size 1400,$((520 * n)) font ',10'"
gnuplot -e "set terminal pngcairo" >/dev/null 2>&1 || term="png size 1400,$((520 * n))"
gnuplot <<GP
set terminal $term
set output '$png'
set multiplot layout $n,1
set logscale x
set xlabel 'latency (us, log scale)'
set ylabel 'fraction of events'
set yrange [0:1]
set key bottom right
set grid
load '$tmp/panels.gp'
unset multiplot
GP
echo "wrote $png"
