# SPDX-License-Identifier: LGPL-2.1-or-later
# A printed progress loop: live events carry each "\r" update; the stored
# output is what a notebook shows at the end.
import sys
import time

for step in range(0, 101, 10):
    sys.stdout.write(f"\rtraining: {step:3d}% [{'#' * (step // 10):<10}]")
    sys.stdout.flush()
    time.sleep(0.1)
print()
print("done: 10 epochs", file=sys.stderr)
