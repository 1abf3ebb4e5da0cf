"""The PNG report of ``zkmargin run``: prices, the margin-ratio distribution with status counts, the calibrated IM
rates, and the time per epoch. matplotlib is imported only here and only when a report is written, so the loop runs
on an install without the ``report`` extra (``RunConfig(report=False)``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .realtime import RunConfig, RunResult

RATIO_CAP = 6.0  # the report's margin-ratio axis (equity/MM above it is comfortably safe, below 0 is bankrupt)
EXTRA_HINT = "the PNG report needs matplotlib: pip install zkmargin[report] (or run without the report)"


def require_matplotlib() -> None:
    """Import matplotlib or fail naming the extra that provides it (checked before a run starts)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as e:
        raise ImportError(EXTRA_HINT) from e


def write_report(res: RunResult, path: Path, cfg: RunConfig) -> Path:
    """Four panels: prices; equity/MM distribution with status counts; calibrated IM rates; time per epoch (a venue
    run: ``write_venue_report``)."""
    if cfg.circuit == "venue":
        return write_venue_report(res, path, cfg)
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    t = [r.tick for r in res.ticks]
    fig, ax = plt.subplots(4, 1, figsize=(11, 14), gridspec_kw={"height_ratios": [1, 1.5, 1, 1]})
    fig.suptitle(
        f"zkmargin run: {cfg.source} {res.ticks[0].date} .. {res.ticks[-1].date}, {cfg.accounts} accounts, "
        f"epoch every {cfg.epoch_every} ticks\nprover: {res.prover}",
        fontsize=12,
    )
    a0 = ax[0]
    a0.plot(t, [r.prices["BTC"] for r in res.ticks], color="tab:orange", label="BTC (left)")
    a0.set_ylabel("BTC USD")
    a0b = a0.twinx()
    a0b.plot(t, [r.prices["ETH"] for r in res.ticks], color="tab:blue", label="ETH (right)")
    a0b.set_ylabel("ETH USD")
    a0.set_title("prices")
    a0.legend(handles=a0.get_lines() + a0b.get_lines(), loc="best", fontsize=9)

    a1 = ax[1]
    pct = np.array([r.ratio_pct for r in res.ticks])
    pct = np.clip(pct, 0.0, RATIO_CAP)
    a1.fill_between(t, pct[:, 0], pct[:, 4], color="tab:green", alpha=0.18, label="5-95th percentile")
    a1.fill_between(t, pct[:, 1], pct[:, 3], color="tab:green", alpha=0.35, label="25-75th percentile")
    a1.plot(t, pct[:, 2], color="darkgreen", label="median")
    a1.axhline(1.0, color="red", ls="--", lw=1, label="equity = MM (liquidation)")
    a1.set_ylim(0, RATIO_CAP)
    a1.set_ylabel(f"equity / MM (clipped to 0..{RATIO_CAP:g})")
    a1.set_title("margin-ratio distribution over time (accounts with positions)")
    a1b = a1.twinx()
    a1b.step(t, [r.counts.get("margin_call", 0) for r in res.ticks], where="mid", color="goldenrod",
             label="# margin call")  # fmt: skip
    a1b.step(t, [r.counts.get("liquidation", 0) for r in res.ticks], where="mid", color="crimson",
             label="# below MM")  # fmt: skip
    a1b.set_ylabel("accounts")
    a1b.set_ylim(bottom=0)
    a1b.yaxis.set_major_locator(MaxNLocator(integer=True))
    a1.legend(handles=a1.get_legend_handles_labels()[0] + a1b.get_lines(), loc="upper center", fontsize=8, ncol=3,
               bbox_to_anchor=(0.5, -0.08), framealpha=0.9)  # fmt: skip

    a2 = ax[2]
    for u, colour, style, lw in (("BTC", "tab:orange", "-", 3.0), ("ETH", "tab:blue", "--", 1.6)):
        vs = [v for v in res.versions if v["underlying"] == u]
        if not vs:
            continue
        xs = [v["tick"] for v in vs] + [t[-1]]
        ys = [v["im_rate"] / 1e4 for v in vs]
        label = f"{u} IM rate ({len(vs)} versions)"
        a2.step(xs, [*ys, ys[-1]], where="post", color=colour, ls=style, lw=lw, label=label)
        a2.scatter([v["tick"] for v in vs], ys, color=colour, s=18, zorder=3)
    a2.set_ylabel("IM rate floor (%)")
    a2.set_title("calibrated parameters (each dot = a new parameter version; MM = half of IM)")
    a2.legend(loc="best", fontsize=9)

    a3 = ax[3]
    ep = res.epochs
    x = [e.tick for e in ep]
    w = max(0.8, cfg.epoch_every * 0.35)
    a3.bar([xi - w / 2 for xi in x], [e.seconds for e in ep], width=w, color="slategray",
           label="epoch total (prove + attest + bundle)")  # fmt: skip
    a3.bar([xi + w / 2 for xi in x], [e.prove_wall_seconds for e in ep], width=w, color="tab:purple",
           label="proving (wall)")  # fmt: skip
    for e in ep:
        a3.annotate(f"epoch {e.epoch}: {e.batches} batches\n{e.covered} covered, {e.excluded} excl.",
                    (e.tick, e.seconds), ha="center", va="bottom", fontsize=8)  # fmt: skip
    a3.set_ylabel("seconds")
    a3.set_ylim(0, max([e.seconds for e in ep], default=1) * 1.8)
    a3.set_title("prove time per epoch")
    a3.legend(loc="upper left", fontsize=8, ncol=2)
    for a in ax:
        a.set_xlim(0.5, max(t) + 0.5 + (w if ep else 0))
        a.grid(alpha=0.3)
    ax[3].set_xlabel("tick")
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_venue_report(res: RunResult, path: Path, cfg: RunConfig) -> Path:
    """A venue run: per underlying, the price and the attested box's bounds with full re-proofs and updates marked
    (ticks where the live view was false shaded); slots re-proven per epoch against the slot count; latency from
    account change to attested epoch."""
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    t = [r.tick for r in res.ticks]
    ep = res.epochs
    fig, ax = plt.subplots(4, 1, figsize=(11, 14), sharex=True)
    n_full = sum(e.mode == "full" for e in ep)
    fig.suptitle(
        f"zkmargin run --circuit venue: {cfg.source} {res.ticks[0].date} .. {res.ticks[-1].date}, box "
        f"+-{cfg.resolved_box_ppm() / 1e4:g}%, {cfg.resolved_changes():g} account changes/tick\n"
        f"{len(ep)} epochs: {n_full} full re-proofs, {len(ep) - n_full} updates",
        fontsize=12,
    )
    false_ticks = [r.tick for r in res.ticks if r.live and not r.live["before"][0] and r.tick > 1]
    for a, u, colour in ((ax[0], "BTC", "tab:orange"), (ax[1], "ETH", "tab:blue")):
        a.plot(t, [r.prices[u] for r in res.ticks], color=colour, marker=".", label=f"{u} price (feed)")
        # the box in force from the end of each tick (a full epoch re-centres it) until the next one's reading
        tb = [*t, t[-1] + 0.5]
        lo = [r.box[u][0] if r.box and u in r.box else np.nan for r in res.ticks]
        hi = [r.box[u][1] if r.box and u in r.box else np.nan for r in res.ticks]
        lo, hi = [*lo, lo[-1]], [*hi, hi[-1]]
        a.step(tb, lo, where="post", color="gray", ls="--", label="attested box (lo / hi)")
        a.step(tb, hi, where="post", color="gray", ls="--")
        a.fill_between(tb, lo, hi, step="post", color="gray", alpha=0.12)
        price = {r.tick: r.prices[u] for r in res.ticks}
        full = [e.tick for e in ep if e.mode == "full"]
        upd = [e.tick for e in ep if e.mode == "update"]
        a.scatter(full, [price[x] for x in full], marker="^", s=90, color="crimson", zorder=4, label="full re-proof")
        a.scatter(upd, [price[x] for x in upd], marker="o", s=40, color="seagreen", zorder=4, label="update epoch")
        for ft in false_ticks:
            a.axvspan(ft - 0.5, ft + 0.5, color="red", alpha=0.12, lw=0)
        a.set_ylabel(f"{u} USD")
        a.set_title(f"{u}: price vs attested box (red band: live view false before the epoch)")
        a.legend(loc="best", fontsize=8)
    a2 = ax[2]
    x = [e.tick for e in ep]
    a2.bar(x, [len(e.reproved_slots) for e in ep], color=["crimson" if e.mode == "full" else "seagreen" for e in ep],
           width=0.6, label="slots re-proven (red: full, green: update)")  # fmt: skip
    a2.plot(x, [e.slots for e in ep], color="black", marker="_", ls=":", label="slots in the tree")
    a2b = a2.twinx()
    a2b.plot(t, [r.changes for r in res.ticks], color="tab:purple", marker="x", ls="", label="account changes")
    a2b.set_ylabel("account changes per tick")
    a2b.set_ylim(bottom=0)
    a2.set_ylabel("slots")
    a2.yaxis.set_major_locator(MaxNLocator(integer=True))
    a2.set_title("re-proven slots per epoch")
    a2.legend(handles=a2.get_legend_handles_labels()[0] + a2b.get_lines(), loc="upper left", fontsize=8)
    a3 = ax[3]
    a3.bar([xi - 0.2 for xi in x], [e.seconds for e in ep], width=0.4, color="slategray", label="epoch (prove + "
           "attest + bundle)")  # fmt: skip
    a3.bar([xi + 0.2 for xi in x], [e.latency_s for e in ep], width=0.4, color="tab:purple",
           label="latency: oldest account change -> attested")  # fmt: skip
    a3.set_ylabel("seconds")
    a3.set_title("epoch time and latency")
    a3.legend(loc="upper left", fontsize=8)
    for a in ax:
        a.grid(alpha=0.3)
        a.set_xlim(0.5, max(t) + 0.5)
    ax[3].set_xlabel("tick")
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
