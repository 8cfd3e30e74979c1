# SPDX-License-Identifier: LGPL-2.1-or-later
# A matplotlib figure: comes back as an image/png display_data item.
import numpy as np
import matplotlib.pyplot as plt

x = np.linspace(0, 2 * np.pi, 200)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(x, np.sin(x), label="sin(x)")
ax.plot(x, np.cos(x), label="cos(x)", linestyle="--")
ax.set_title("Two waves")
ax.legend()
plt.show()
print("max of sin + cos:", round(float(np.max(np.sin(x) + np.cos(x))), 4))
