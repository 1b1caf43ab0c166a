"""Reference for bench_paint.py: the app's page frame with the Slices page's headline only.

bench_paint.py serves this file as the main script of a folder that links the app's
``pages/`` in, so it opens like any page of the app: page config, dataset picker,
title, slice box and the sidebar's page links (drawn after the numbers, as the timed
pages draw them). It then draws the four numbers the Slices page draws first and
stops. A slice change here costs what every page of the app pays before its own
sections: the floor under the figures of the Slices, Confusion and Compare pages.
"""

from mlqa_debug.stats import slice_report
from mlqa_debug.ui.context import open_page, stop_page
from mlqa_debug.ui.widgets import slice_metrics

ctx = open_page("slices", navigation="late")
slice_metrics(slice_report(ctx.predictions.metric_data, ctx.mask))
stop_page()
