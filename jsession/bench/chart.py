"""The bar chart: speedups over the baseline, and times over the floor (matplotlib, imported
only when a chart is asked for)."""

from __future__ import annotations

from jsession.bench.case import Target
from jsession.bench.runner import CaseResult


def plot(results: list[CaseResult], path: str) -> None:
    """Two panels: baseline time / subject time (log), and time / floor time of the subject
    and the baseline (log); a black tick marks each target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def target(r: CaseResult, kind: str) -> Target | None:
        return next((t for t in r.case.targets if t.kind == kind), None)

    speed: list[tuple[str, float, Target | None]] = []
    floor: list[tuple[str, float, float, Target | None]] = []
    for r in results:
        ratios = r.ratios()
        vs_baseline, vs_floor = ratios["vs_baseline"], ratios["vs_floor"]
        if vs_baseline is not None:
            speed.append((r.label, vs_baseline, target(r, "speedup")))
        lowest = r.floor()
        if vs_floor is not None and lowest is not None:
            baseline = r.best.get(r.case.baseline) if r.case.baseline else None
            over = baseline / lowest[1] if baseline else 0.0
            floor.append((r.label, vs_floor, over, target(r, "vs_floor")))

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [3, 2]})
    labels = [s[0] for s in speed]
    values = [s[1] for s in speed]
    colors = ["tab:green" if (t is None or v >= t.bound) else "tab:red" for _, v, t in speed]
    ax1.barh(labels, values, color=colors)
    for y, (_, v, t) in enumerate(speed):
        ax1.text(v, y, f" {v:.3g}x", va="center", fontsize=8)
        if t is not None:
            ax1.plot([t.bound, t.bound], [y - 0.4, y + 0.4], color="black", lw=1.5)
    ax1.set_xscale("log")
    ax1.set_xlabel("jupyter_client time / jsession time (log; | = target)")
    ax1.set_title("Speedup over jupyter_client 8.10")
    ax1.invert_yaxis()

    ys = range(len(floor))
    js = [f[1] for f in floor]
    jc = [f[2] for f in floor]
    ax2.barh([y - 0.2 for y in ys], js, height=0.4, label="jsession", color="tab:blue")
    ax2.barh([y + 0.2 for y in ys], jc, height=0.4, label="jupyter_client", color="tab:gray")
    for y, f in enumerate(floor):
        if f[3] is not None:
            ax2.plot([f[3].bound, f[3].bound], [y - 0.45, y + 0.05], color="black", lw=1.5)
    for y, (v, w) in enumerate(zip(js, jc, strict=True)):
        ax2.text(v, y - 0.2, f" {v:.2f}x", va="center", fontsize=8)
        if w:
            ax2.text(w, y + 0.2, f" {w:.2f}x", va="center", fontsize=8)
    ax2.axvline(1.0, color="black", lw=0.8, ls=":")
    ax2.set_xscale("log")
    ax2.set_yticks(list(ys), [f[0] for f in floor])
    ax2.set_xlabel("time / floor time (log; | = target)")
    ax2.set_title("Time over the floor")
    ax2.invert_yaxis()
    ax2.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
