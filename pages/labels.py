"""Labels page: review the current slice's suspected label errors, one example at a time.

The queue position is in the link (``labels?ds=NAME&slice=...&i=N``), so a reviewer
can hand a colleague the exact example; decisions go to the workspace's review log.
"""

import streamlit as st

from mlqa_debug.ui import labels as ui
from mlqa_debug.ui.context import open_page
from mlqa_debug.ui.widgets import copy_link

ctx = open_page("labels", options=ui.label_options, heading="Review labels")
queue = ui.queue_or_stop(ctx)
state = ui.read_review_log(ctx)
ui.log_problems(state)

ui.queue_controls(ctx)
ui.queue_summary(ctx, queue, state)
if len(queue) == 0:
    st.success(
        "No suspected label errors here. Choose “Every row, most suspect first” to read the "
        "rows the ranking puts first anyway."
    )
else:
    index = ui.current_index(ctx, queue)
    ui.example_heading(ctx, queue, index)
    ui.actions(ctx, queue, index, state)
    ui.example_panel(ctx, queue, index, state)
copy_link(ctx.link())

st.divider()
ui.reliability_section(ctx, queue)
st.divider()
ui.export_section(ctx, state)
