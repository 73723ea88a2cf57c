# SPDX-License-Identifier: GPL-2.0
#
# results/bench.png from results/bench.dat (make bench):
#   gnuplot -e "dat='results/bench.dat'; out='results/bench.png'" bench/plot.gp
# One panel per return-path delay: TCP goodput / configured rate against
# the rate, for each policer configuration (the latency ones up to
# 32768 KB/s), and the unpoliced goodput
# (what the generator can do under TCG) as a ceiling.

set terminal pngcairo size 1500,520 font ",10"
set output out
set multiplot layout 1,3 title "guest -> host TCP goodput / configured rate (seed 001's table; QEMU TCG)"
set logscale x 2
set xrange [700:100000]
set xtics ("1024" 1024, "2048" 2048, "4096" 4096, "8192" 8192, "16384" 16384, "32768" 32768, "65536" 65536)
set xlabel "rate (KB/s, tc kbps)"
set ylabel "goodput / rate"
set yrange [0:2.1]
set grid
set key top right font ",9" samplen 2

cfg(rtt, c) = sprintf("< awk '$1 == \"tcp\" && $2 == %d && $4 == \"%s\" && $5 != \"NA\" { print $3, $5 / ($3 * 8000) }' %s", rtt, c, dat)
unpoliced(rtt) = sprintf("< awk '$1 == \"tcp\" && $2 == %d && $4 == \"none\" { c = $5 } $1 == \"tcp\" && $2 == %d && $4 != \"none\" { r[$3] = 1 } END { for (x in r) print x, c / (x * 8000) }' %s | sort -n", rtt, rtt, dat)

do for [rtt in "0 1 10"] {
	set title sprintf("%s ms added on the return path", rtt)
	plot cfg(rtt + 0, "police-libvirt") with linespoints lw 2 pt 7 lc rgb "#d62728" title "police, burst = rate (libvirt)", \
	     cfg(rtt + 0, "police-64k") with linespoints lw 2 pt 5 lc rgb "#ff9896" title "police, burst 64kb", \
	     cfg(rtt + 0, "vmpolice-libvirt") with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "vmpolice, burst = rate", \
	     cfg(rtt + 0, "vmpolice-64k") with linespoints lw 2 pt 5 lc rgb "#aec7e8" title "vmpolice, burst 64kb", \
	     cfg(rtt + 0, "vmpolice-64k-5ms") with linespoints lw 2 pt 13 lc rgb "#9467bd" title "vmpolice, burst 64kb, latency 5ms", \
	     cfg(rtt + 0, "vmpolice-64k-5ms-ecn") with linespoints lw 2 dt 3 pt 12 lc rgb "#9467bd" title "vmpolice, burst 64kb, latency 5ms, ecn", \
	     cfg(rtt + 0, "tbf-64k") with linespoints lw 2 pt 9 lc rgb "#2ca02c" title "tbf (shaper), burst 64kb", \
	     unpoliced(rtt + 0) with lines dt 2 lc rgb "#7f7f7f" title "unpoliced goodput (generator limit)"
}
unset multiplot
