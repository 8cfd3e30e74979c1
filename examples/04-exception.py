# SPDX-License-Identifier: LGPL-2.1-or-later
# A raised exception: the output before it is kept, then one error item
# whose traceback points at this cell's lines.
def mean(values):
    return sum(values) / len(values)

print("mean of [1, 2, 3]:", mean([1, 2, 3]))
print("mean of []:", mean([]))
