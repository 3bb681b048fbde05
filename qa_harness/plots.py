"""Matplotlib figures for compare and report, rendered off-screen (Agg) to PNG bytes.

Figures are small (thumbnail-sized DPI) because reports embed them as data URIs and must stay small.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

DPI = 80


def _figure(width: float, height: float, rows: int = 1, cols: int = 1):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt.subplots(rows, cols, figsize=(width, height), dpi=DPI, squeeze=False)


def _text(value: object) -> str:
    """A user string as literal plot text: `$` would otherwise start matplotlib mathtext."""
    return str(value).replace("$", r"\$")


def to_png(fig) -> bytes:
    """PNG bytes, quantized to a 256-colour palette (plots need no more; about 3x smaller)."""
    import matplotlib.pyplot as plt
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def pareto_front(quality: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Mask of points no other point beats on both axes (quality: higher better; cost: lower better)."""
    keep = np.ones(len(quality), dtype=bool)
    for i in range(len(quality)):
        dominated = (quality >= quality[i]) & (cost <= cost[i]) & ((quality > quality[i]) | (cost < cost[i]))
        keep[i] = not dominated.any()
    return keep


def pareto_plot(points: pd.DataFrame, metrics: Mapping[str, bool]) -> bytes:
    """Quality vs cost: one row per metric (name -> higher_is_better), columns frames/s and peak memory.

    `points`: one row per run with columns `label`, `perf/frames_per_second`, `perf/peak_rss_mb` and
    one column per metric (its overall mean). Pareto-optimal runs are joined by a line.
    """
    costs = [
        ("perf/frames_per_second", "frames/s (higher is better)", -1.0),
        ("perf/peak_rss_mb", "peak memory MB (lower is better)", 1.0),
    ]
    fig, axes = _figure(4.2 * len(costs), 3.0 * len(metrics), rows=len(metrics), cols=len(costs))
    for row, (metric, higher) in enumerate(metrics.items()):
        for col, (cost_col, cost_label, sign) in enumerate(costs):
            ax = axes[row][col]
            data = points[["label", metric, cost_col]].dropna()
            if data.empty:
                ax.text(0.5, 0.5, f"no {cost_col}", ha="center", transform=ax.transAxes)
                continue
            quality = data[metric].to_numpy(float) * (1 if higher else -1)
            front = pareto_front(quality, data[cost_col].to_numpy(float) * sign)
            ax.scatter(data[cost_col], data[metric], c=np.where(front, "tab:red", "tab:gray"), zorder=3)
            frontier = data[front].sort_values(cost_col)
            ax.plot(frontier[cost_col], frontier[metric], color="tab:red", lw=1, zorder=2)
            for label, x, y in zip(data["label"], data[cost_col], data[metric], strict=True):
                ax.annotate(_text(label), (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
            ax.set_xlabel(cost_label, fontsize=8)
            ax.set_ylabel(f"{metric} ({'higher' if higher else 'lower'} is better)", fontsize=8)
            ax.grid(alpha=0.3)
    fig.suptitle("quality vs cost (red: Pareto-optimal)", fontsize=9)
    return to_png(fig)


def heatmap(values: pd.DataFrame, *, title: str, colours: pd.DataFrame) -> bytes:
    """Annotated heat map of a metric x condition table (rows metrics, columns conditions).

    Cells show `values`; colours come from `colours` (same shape; scores scaled per row, since metrics
    have different units), centred on zero. Green = better.
    """
    fig, axes = _figure(max(4.0, 0.9 * values.shape[1] + 1.5), max(2.0, 0.45 * values.shape[0] + 1.0))
    ax = axes[0][0]
    data = values.to_numpy(float)
    shade = colours.to_numpy(float)
    shade = np.where(np.isfinite(shade), shade, np.nan)
    bound = float(np.nanmax(np.abs(shade))) if np.isfinite(shade).any() else 1.0
    image = ax.imshow(shade, cmap="RdYlGn", vmin=-bound or -1.0, vmax=bound or 1.0, aspect="auto")
    ax.set_xticks(range(values.shape[1]), [_text(c) for c in values.columns], rotation=40, ha="right", fontsize=7)
    ax.set_yticks(range(values.shape[0]), [_text(r) for r in values.index], fontsize=7)
    for (i, j), value in np.ndenumerate(data):
        if np.isfinite(value):
            ax.text(j, i, f"{value:.3g}", ha="center", va="center", fontsize=6)
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_title(title, fontsize=9)
    return to_png(fig)


def distributions(samples: Mapping[str, Mapping[str, np.ndarray]], *, title: str, per_row: int = 4) -> bytes:
    """Per-clip value histograms: one panel per metric (`per_row` to a row), one series per run label."""
    cols = min(per_row, len(samples))
    rows = -(-len(samples) // cols)
    fig, axes = _figure(3.2 * cols, 2.4 * rows, rows=rows, cols=cols)
    panels = axes.flatten()
    for ax in panels[len(samples) :]:
        ax.set_visible(False)
    for ax, (metric, series) in zip(panels, samples.items(), strict=False):
        for label, values in series.items():
            ax.hist(values[np.isfinite(values)], bins=20, alpha=0.5, label=_text(label))
        ax.set_title(_text(metric), fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6)
    fig.suptitle(title, fontsize=9)
    return to_png(fig)


def curves(series: Sequence[tuple[str, np.ndarray, np.ndarray]], *, metric: str, higher_is_better: bool) -> bytes:
    """Per-frame metric curves (label, frame indices, values) of a few clips."""
    fig, axes = _figure(5.0, 2.2)
    ax = axes[0][0]
    for label, frames, values in series:
        ax.plot(frames, values, lw=1, label=_text(label))
    ax.set_xlabel("frame", fontsize=8)
    ax.set_ylabel(f"{metric} ({'higher' if higher_is_better else 'lower'} is better)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6)
    ax.grid(alpha=0.3)
    return to_png(fig)
