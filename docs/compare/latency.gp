set terminal pngcairo size 1000,620 font 'sans,11'
set output 'latency.png'
set title 'Status query (load average of every node): MON vs parallel-ssh vs serf, 2 vCPU, loopback'
set xlabel 'nodes N'
set ylabel 'seconds until every node answered (median; bars: min..p95)'
set logscale y
set xrange [0:550]
set xtics (50, 200, 500)
set grid
set key top left
set label 1 'open circle: not every run reached all N (serf: time until its CLI gave up)' at graph 0.02, graph 0.04 font ',9'
plot 'latency.dat' index 0 using 1:2:3:4 with yerrorlines lw 2 dt 1 pt 7 lc rgb '#1b9e77' title 'mon, 0 ms', 'latency.dat' index 0 using 1:($5>0?$2:1/0) with points pt 6 ps 3 lc rgb '#1b9e77' notitle, 'latency.dat' index 1 using 1:2:3:4 with yerrorlines lw 2 dt 2 pt 5 lc rgb '#1b9e77' title 'mon, 25 ms', 'latency.dat' index 1 using 1:($5>0?$2:1/0) with points pt 6 ps 3 lc rgb '#1b9e77' notitle, 'latency.dat' index 2 using 1:2:3:4 with yerrorlines lw 2 dt 1 pt 7 lc rgb '#d95f02' title 'pssh, 0 ms', 'latency.dat' index 2 using 1:($5>0?$2:1/0) with points pt 6 ps 3 lc rgb '#d95f02' notitle, 'latency.dat' index 3 using 1:2:3:4 with yerrorlines lw 2 dt 2 pt 5 lc rgb '#d95f02' title 'pssh, 25 ms', 'latency.dat' index 3 using 1:($5>0?$2:1/0) with points pt 6 ps 3 lc rgb '#d95f02' notitle, 'latency.dat' index 4 using 1:2:3:4 with yerrorlines lw 2 dt 1 pt 7 lc rgb '#7570b3' title 'serf, 0 ms', 'latency.dat' index 4 using 1:($5>0?$2:1/0) with points pt 6 ps 3 lc rgb '#7570b3' notitle, 'latency.dat' index 5 using 1:2:3:4 with yerrorlines lw 2 dt 2 pt 5 lc rgb '#7570b3' title 'serf, 25 ms', 'latency.dat' index 5 using 1:($5>0?$2:1/0) with points pt 6 ps 3 lc rgb '#7570b3' notitle
