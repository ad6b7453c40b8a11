# SPDX-License-Identifier: MIT
# lamina: plots a training history CSV (loss and accuracy, train and test) as a two-panel PNG.
#
# The CSV is what lamina's History writes, with this header (comma separated):
#     epoch,loss,accuracy,test_loss,test_accuracy,seconds
# Columns are found by name, so their order does not matter; empty test_* fields (a run
# without validation data) are skipped.
#
# Usage (gnuplot 5.4 or later; gnuplot-nox is enough):
#     gnuplot -e "in='history.csv'; out='history.png'" examples/plot_history.gp
# `out` defaults to `in` with .csv replaced by .png.

if (!exists("in")) {
    print "usage: gnuplot -e \"in='history.csv'; out='history.png'\" plot_history.gp"
    exit status 2
}
if (!exists("out")) {
    out = (strlen(in) > 4 && in[strlen(in)-3:] eq ".csv") ? in[1:strlen(in)-4] . ".png" : in . ".png"
}

# pngcairo draws smoother lines; gnuplot-nox builds without cairo only have libgd's png.
if (strstrt(GPVAL_TERMINALS, " pngcairo ") > 0) {
    set terminal pngcairo size 1200,480 enhanced font "Sans,11" linewidth 1.5
} else {
    set terminal png size 1200,480 enhanced font "Sans,11" linewidth 1.5
}
set output out

set datafile separator comma
set datafile columnheaders
set datafile missing ""

# Training time for the overall title: the sum of the per-epoch `seconds` column.
stats in using "seconds" name "T" nooutput
stats in using "epoch" name "E" nooutput

set multiplot layout 1,2 title sprintf("%s: %d epochs, %.1f s", in, int(E_records), T_sum) noenhanced

set grid
set key top right box opaque
set xlabel "epoch"
set xrange [*:*]
if (E_max - E_min <= 20) { set xtics 1 }   # few epochs: one tic per epoch, no 1.5
set style line 1 lc rgb "#1f77b4" lw 1.5 pt 7 ps 0.5   # train: blue
set style line 2 lc rgb "#d62728" lw 1.5 pt 5 ps 0.5   # test: red

set title "loss"
set ylabel "loss"
plot in using "epoch":"loss" with linespoints ls 1 title "train", \
     ""  using "epoch":"test_loss" with linespoints ls 2 title "test"

set title "accuracy"
set ylabel "accuracy"
set key bottom right
plot in using "epoch":"accuracy" with linespoints ls 1 title "train", \
     ""  using "epoch":"test_accuracy" with linespoints ls 2 title "test"

unset multiplot
set output
