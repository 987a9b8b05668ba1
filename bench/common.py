"""The bench's shared facts: addresses, the stream's instrument, pacing, targets and modes."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

HOST = "127.0.0.1"
MD_SYMBOL = "BTC-PYUSD"
MD_TICK = Decimal("0.1")  # TrueX grid of the 10 000 - 100 000 bucket
MD_LOT = Decimal("0.0001")
MD_MID_TICKS = 600_000  # 60 000.0
DEFAULT_SEED = 20_260_515  # the market-data stream of every figure in the README
RTT_SYMBOL = "ETH-PYUSD"  # not quoted by the bench strategy: the market maker leaves it alone
RTT_PRICE = Decimal("3000")
RTT_QTY = Decimal("0.01")
BASELINE_MD_REQ_ID = "MD2"  # what the market maker's first subscription is called
BURST_S = 0.002  # paced sending: one burst every 2 ms
LAG_LIMIT_S = 0.05  # "without backlog": never more than 50 ms of stream behind
WRITER_DRAIN_LIMIT_S = 0.5  # the journal too: stored within 0.5 s (it batches every 0.2 s)
SENDER_BOUND = 0.97  # a trial whose sender reached less than this share of R is sender-bound
WRITER_SAMPLE_S = 0.05
TURN_WAIT_S = 0.005  # the idle loop's longest wait: the pipe is polled as often
CONDITION_WAIT_S = 0.002  # waiting for a condition: engine-thread passes wake it sooner
MAX_TRIAL_MESSAGES = 60_000  # built before sending: about 6 KB each
AUTO = "auto"  # the CPU reference rate: half the first receiver's sustained rate
NS_PER_US = 1000

TARGETS = {
    "md_throughput_ratio": (">=", 0.8),
    "tick_to_quote_p50_us": ("<", 150.0),
    "tick_to_quote_p99_us": ("<", 1000.0),
    "order_rtt_ratio": ("<=", 1.3),
    "journal_cost_ratio": ("<", 0.10),
    # issue 19
    "decision_lag_p99_us": ("<=", 1000.0),
    "tick_to_quote_ratio_p50": ("<=", 1.5),
    "reference_to_quote_p50_us": ("<=", 1000.0),
    "journal_client_cpu_ratio": ("<=", 1.1),
    "soak_rss_growth_ratio": ("<=", 0.10),
    # issue 21: virtual seconds of a quiet book (1 msg/s) replayed per wall second, store on
    "backtest_x_real_time_quiet": (">=", 50.0),
}


class BenchError(RuntimeError):
    """A measurement could not be made (a peer died, timed out or refused)."""


@dataclasses.dataclass(frozen=True)
class Mode:
    """How much traffic each measurement gets."""

    name: str
    saturation_n: int  # messages sent as fast as possible
    trials: int  # paced trials in the sustained-rate search
    trial_s: float  # length of one paced trial
    ttq_n: int  # X messages for tick to quote
    ttq_rate: float  # their rate, msg/s
    rtt_n: int  # measured order round trips
    warmup: int  # round trips / triggers discarded first
    floor_steps: int  # floor receivers: the first N of FLOOR_STEPS, one pair each
    reference_ticks: int  # reference to quote: websocket ticks (bench.reference_to_quote)
    reference_poll_ticks: int  # and REST poll ticks, about 1.5 s each
    soak_messages: int  # bench.soak: 35=X through the market maker and the matching engine
    soak_taker_every: int  # a taker takes one of our quotes every N of them
    backtest_quiet_s: int  # bench.backtest_speed: virtual seconds of a 1 msg/s capture
    backtest_busy_s: int  # and of a 20 msg/s one


MODES = {
    # smoke: X slow enough to find quotes at rest
    "smoke": Mode("smoke", 300, 3, 0.1, 200, 300.0, 50, 10, 5, 10, 2, 5_000, 100, 300, 30),
    # quick: no floor pair, or it would pass two minutes; --floor adds all five
    "quick": Mode(
        "quick", 20_000, 5, 1.5, 1500, 500.0, 1000, 100, 0, 50, 6, 100_000, 1000, 3600, 300
    ),
    "full": Mode(
        "full", 60_000, 7, 3.0, 5000, 500.0, 5000, 200, 1, 100, 10, 1_000_000, 1000, 3600, 3600
    ),
}
