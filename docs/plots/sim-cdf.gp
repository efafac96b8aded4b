# Count-time CDF of `mon sim` (330 nodes, 3 % dead; without and with 5 % stragglers) against
# the paper's Figure 3 (two-stage: 65 % under 1.5 s, 97 % under 2 s).
# Inputs: paper.csv and paper-strag.csv from
#   mon sim --nodes 330 --dead 0.03 --overlay random,twostage --fanout 5,6,8 --sessions 100 --cdf paper.csv
#   (same with --stragglers 0.05 --cdf paper-strag.csv)
# Run: gnuplot -e "dir='DIR'" sim-cdf.gp   (writes sim-cdf.png in the current directory)
if (!exists("dir")) dir = "."
set terminal pngcairo size 900,560
set output "sim-cdf.png"
set datafile separator ","
set key bottom right
set xlabel "count time (ms)"
set ylabel "fraction of sessions"
set xrange [0:8000]
set yrange [0:1]
set grid
$paper << EOD
1500,0.65
2000,0.97
EOD
plot \
  sprintf("< awk -F, '$1==\"rand5\"' %s/paper.csv", dir) using 3:4 with steps lw 2 title "rand5", \
  sprintf("< awk -F, '$1==\"twostage5\"' %s/paper.csv", dir) using 3:4 with steps lw 2 title "two-stage (k=5)", \
  sprintf("< awk -F, '$1==\"rand5\"' %s/paper-strag.csv", dir) using 3:4 with steps lw 2 dt 2 title "rand5, 5 % stragglers", \
  sprintf("< awk -F, '$1==\"twostage5\"' %s/paper-strag.csv", dir) using 3:4 with steps lw 2 dt 2 title "two-stage, 5 % stragglers", \
  $paper using 1:2 with points pt 7 ps 1.5 lc rgb "black" title "paper, Fig. 3 (two-stage)"
