# SPDX-License-Identifier: LGPL-2.1-or-later
# A pandas DataFrame as the cell's value: execute_result with text/plain and text/html.
import pandas as pd

sales = pd.DataFrame({
    "region": ["north", "south", "north", "east", "south", "east"],
    "quarter": ["Q1", "Q1", "Q2", "Q2", "Q3", "Q3"],
    "revenue": [120.5, 98.0, 134.25, 77.0, 101.75, 88.5],
})
summary = sales.groupby("region")["revenue"].agg(["count", "sum", "mean"]).round(2)
summary
