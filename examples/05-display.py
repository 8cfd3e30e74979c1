# SPDX-License-Identifier: LGPL-2.1-or-later
# IPython's display API without IPython: a display that is updated in
# place, and rich HTML/Markdown outputs.
import time
from IPython.display import HTML, Markdown, display

handle = display(Markdown("**status:** starting"), display_id=True)
for i in range(1, 4):
    time.sleep(0.1)
    handle.update(Markdown(f"**status:** step {i} of 3"))
display(HTML("<b>finished</b> in <i>3</i> steps"))
