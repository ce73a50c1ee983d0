"""Erlang C and Erlang A staffing formulas, written for numerical stability.

Traffic is in Erlangs: arrivals per second × average handle time (AHT) in seconds.

Erlang B is computed with the recursion B(k) = A·B(k-1) / (k + A·B(k-1)), whose values stay in
[0, 1]; no factorial or power of A is ever formed, so thousands of seats and tens of thousands of
calls per hour neither overflow nor lose precision. Erlang C follows from B in closed form.

Erlang A (M/M/n+M, Palm's model) adds caller patience, exponential with mean ``patience_s``.
With x = λ/θ and s = nμ/θ (θ = 1/patience, μ = 1/AHT) the queue states behind n busy seats have
weights w_j = Π_{i=1..j} x/(s+i); a caller who finds j waiting ahead is answered with probability
s/(s+j+1), and the waiting time of those who find all seats busy has the density
nμ·e^(-nμ·v)·exp(x·(1-e^(-θv))) / Z with Z = Σ_j w_j. Sums run in log space with rescaling; the
service-level integral over [0, T] uses composite Simpson on a log-scaled, concave exponent.

Conventions (also in docs/scheduling.md):
- zero traffic: wait probability 0, service level 1, ASA 0, 0 seats needed;
- agents <= traffic in Erlang C: the queue is unstable, wait probability 1, service level 0, ASA
  ``math.inf`` (never NaN);
- in Erlang A the service level counts abandoned callers as not answered in time (the 15-second
  rate's denominator is every caller who asked for a seat).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Above this many queue-weight terms we refuse instead of looping for minutes: it happens only when
# patience is absurdly long compared with the arrival rate, where Erlang C is the right model.
MAX_QUEUE_TERMS = 2_000_000
# A term e^-45 below the largest one no longer changes a double-precision sum.
_LOG_NEGLIGIBLE = 45.0


def _check_traffic(traffic: float) -> None:
    if not math.isfinite(traffic) or traffic < 0:
        raise ValueError(f"traffic must be a finite number of Erlangs >= 0, got {traffic!r}")


def _check_agents(agents: int) -> None:
    if agents < 0:
        raise ValueError(f"agents must be >= 0, got {agents!r}")


def _check_positive(name: str, value: float) -> None:
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def _check_nonnegative(name: str, value: float) -> None:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def _check_target(target: float) -> None:
    if not (0.0 < target < 1.0):
        raise ValueError(f"target service level must be strictly between 0 and 1, got {target!r}")


def erlang_b(agents: int, traffic: float) -> float:
    """Blocking probability of an M/M/n/n system (Erlang B)."""
    _check_agents(agents)
    _check_traffic(traffic)
    b = 1.0
    for k in range(1, agents + 1):
        b = traffic * b / (k + traffic * b)
    return b


def _c_from_b(agents: int, traffic: float, b: float) -> float:
    if traffic <= 0:
        return 0.0
    if agents <= traffic:
        return 1.0
    return agents * b / (agents - traffic * (1.0 - b))


def erlang_c_wait_probability(agents: int, traffic: float) -> float:
    """Probability that a caller has to wait (Erlang C); 1.0 when agents <= traffic > 0."""
    _check_agents(agents)
    _check_traffic(traffic)
    if traffic == 0:
        return 0.0
    if agents <= traffic:
        return 1.0
    return _c_from_b(agents, traffic, erlang_b(agents, traffic))


def _sl_from_c(agents: int, traffic: float, aht_s: float, within_s: float, c: float) -> float:
    if traffic == 0:
        return 1.0
    if agents <= traffic:
        return 0.0
    return max(0.0, 1.0 - c * math.exp(-(agents - traffic) * within_s / aht_s))


def erlang_c_service_level(agents: int, traffic: float, aht_s: float, within_s: float) -> float:
    """Share of callers answered within ``within_s`` seconds: 1 - C·e^(-(N-A)·T/AHT)."""
    _check_positive("aht_s", aht_s)
    _check_nonnegative("within_s", within_s)
    c = erlang_c_wait_probability(agents, traffic)
    return _sl_from_c(agents, traffic, aht_s, within_s, c)


def erlang_c_asa(agents: int, traffic: float, aht_s: float) -> float:
    """Average speed of answer in seconds: C·AHT/(N-A); ``math.inf`` when agents <= traffic > 0."""
    _check_positive("aht_s", aht_s)
    c = erlang_c_wait_probability(agents, traffic)
    if traffic == 0:
        return 0.0
    if agents <= traffic:
        return math.inf
    return c * aht_s / (agents - traffic)


def erlang_c_figures(agents: int, traffic: float, aht_s: float, within_s: float) -> tuple[float, float, float]:
    """Wait probability, service level and ASA from one Erlang B pass (for callers needing all three)."""
    _check_positive("aht_s", aht_s)
    _check_nonnegative("within_s", within_s)
    c = erlang_c_wait_probability(agents, traffic)
    if traffic == 0:
        return c, 1.0, 0.0
    if agents <= traffic:
        return c, 0.0, math.inf
    return c, _sl_from_c(agents, traffic, aht_s, within_s, c), c * aht_s / (agents - traffic)


def occupancy(agents: int, traffic: float) -> float:
    """Share of paid seat time spent handling contacts, A/N capped at 1 (0 seats, 0 traffic -> 0)."""
    _check_agents(agents)
    _check_traffic(traffic)
    if agents == 0:
        return 0.0 if traffic == 0 else 1.0
    return min(1.0, traffic / agents)


def erlang_c_agents_for_service_level(traffic: float, aht_s: float, target: float, within_s: float) -> int:
    """Fewest agents whose Erlang C service level reaches ``target`` (0 for zero traffic)."""
    _check_traffic(traffic)
    _check_positive("aht_s", aht_s)
    _check_target(target)
    _check_nonnegative("within_s", within_s)
    if traffic == 0:
        return 0
    # Walk the Erlang B recursion once up to the first stable size, then one seat at a time.
    n = math.floor(traffic) + 1
    b = 1.0
    for k in range(1, n + 1):
        b = traffic * b / (k + traffic * b)
    while True:
        c = _c_from_b(n, traffic, b)
        if _sl_from_c(n, traffic, aht_s, within_s, c) >= target:
            return n
        n += 1
        b = traffic * b / (n + traffic * b)


@dataclass(frozen=True, slots=True)
class ErlangAResult:
    """Steady-state figures of an M/M/n+M queue."""

    agents: int
    traffic: float
    wait_probability: float  # all seats busy on arrival
    service_level: float  # answered within the threshold ÷ all arrivals
    abandonment: float  # share of arrivals that hang up before being answered
    asa_s: float  # mean wait of answered callers
    mean_wait_s: float  # mean time in queue of all callers, abandoned ones included
    occupancy: float  # answered load ÷ agents


def _log_add(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    hi, lo = (a, b) if a >= b else (b, a)
    return hi + math.log1p(math.exp(lo - hi))


def _queue_sums(s: float, x: float, theta: float) -> tuple[float, float, float, float]:
    """log Σw_j, log Σw_j·(j+1)/(s+j+1), log Σw_j·s/(s+j+1)·H_j, log Σw_j·j (H_j = Σ 1/θ(s+i+1))."""
    # The weights peak near j = x - s and fade within a few dozen standard deviations after it.
    if max(0.0, x - s) + 60 * math.sqrt(x) + 100 > MAX_QUEUE_TERMS:
        raise ValueError("patience is too long for Erlang A at this load; use Erlang C (no --patience)")
    log_x = math.log(x)
    log_w = 0.0
    lz = la = lt = lq = -math.inf
    harmonic = 0.0
    j = 0
    peak = 0.0
    while True:
        harmonic += 1.0 / (theta * (s + j + 1))
        lz = _log_add(lz, log_w)
        la = _log_add(la, log_w + math.log((j + 1) / (s + j + 1)))
        lt = _log_add(lt, log_w + math.log(s / (s + j + 1) * harmonic))
        if j > 0:
            lq = _log_add(lq, log_w + math.log(j))
        peak = max(peak, log_w)
        j += 1
        log_w += log_x - math.log(s + j)
        # Past the peak (x < s + j the weights fall) and negligible: the sum is complete.
        if x < s + j and log_w < peak - _LOG_NEGLIGIBLE:
            break
        if j > MAX_QUEUE_TERMS:
            raise ValueError("patience is too long for Erlang A at this load; use Erlang C (no --patience)")
    return lz, la, lt, lq


def _log_answered_within(n_mu: float, theta: float, x: float, within_s: float) -> float:
    """log ∫_0^T nμ·e^(-(nμ+θ)v)·exp(x(1-e^(-θv))) dv by composite Simpson on a rescaled integrand."""
    if within_s == 0:
        return -math.inf

    def h(v: float) -> float:
        return math.log(n_mu) - (n_mu + theta) * v - x * math.expm1(-theta * v)

    # The exponent is concave; its slope bounds how fast the integrand changes, which sets the step.
    steepness = n_mu + theta + x * theta
    panels = min(20_000, max(64, math.ceil(8 * steepness * within_s)))
    if panels % 2:
        panels += 1
    step = within_s / panels
    values = [h(i * step) for i in range(panels + 1)]
    top = max(values)
    total = 0.0
    for i, value in enumerate(values):
        weight = 1 if i in (0, panels) else (4 if i % 2 else 2)
        total += weight * math.exp(value - top)
    return top + math.log(total * step / 3.0)


def erlang_a(agents: int, traffic: float, aht_s: float, patience_s: float, within_s: float) -> ErlangAResult:
    """Erlang A figures for ``agents`` seats, mean caller patience ``patience_s`` and threshold ``within_s``."""
    _check_agents(agents)
    _check_traffic(traffic)
    _check_positive("aht_s", aht_s)
    _check_positive("patience_s", patience_s)
    _check_nonnegative("within_s", within_s)
    if traffic == 0:
        return ErlangAResult(agents, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0)
    if agents == 0:
        # Nobody is ever answered; every caller waits out their patience.
        return ErlangAResult(0, traffic, 1.0, 0.0, 1.0, math.inf, patience_s, 0.0)
    lam = traffic / aht_s
    theta = 1.0 / patience_s
    n_mu = agents / aht_s
    s = n_mu / theta
    x = lam / theta
    lz, la, lt, lq = _queue_sums(s, x, theta)
    b = erlang_b(agents, traffic)
    # P(all busy) = Z·B / (1 - B + Z·B), formed in logs because Z may exceed 1e300.
    log_b = math.log(b) if b > 0 else -math.inf
    log_den = _log_add(math.log1p(-b) if b < 1 else -math.inf, lz + log_b)
    log_pw = lz + log_b - log_den
    pw = math.exp(log_pw)
    abandonment = math.exp(log_pw + la - lz)
    answered = 1.0 - abandonment
    waited_answered_time = math.exp(log_pw + lt - lz)
    asa = waited_answered_time / answered if answered > 0 else math.inf
    within = _log_answered_within(n_mu, theta, x, within_s)
    service_level = (1.0 - pw) + math.exp(log_pw + within - lz)
    # E[Q]/λ by Little's law; it must equal abandonment × patience (λ·P(Ab) = θ·E[Q]), a test checks.
    mean_wait = math.exp(log_pw + lq - lz) / lam if lq > -math.inf else 0.0
    occ = min(1.0, traffic * answered / agents)
    return ErlangAResult(
        agents=agents,
        traffic=traffic,
        wait_probability=pw,
        service_level=min(1.0, max(0.0, service_level)),
        abandonment=min(1.0, max(0.0, abandonment)),
        asa_s=asa,
        mean_wait_s=mean_wait,
        occupancy=occ,
    )


def erlang_a_service_level(agents: int, traffic: float, aht_s: float, patience_s: float, within_s: float) -> float:
    """Share of all callers answered within ``within_s`` (abandons count as misses)."""
    return erlang_a(agents, traffic, aht_s, patience_s, within_s).service_level


def erlang_a_abandonment(agents: int, traffic: float, aht_s: float, patience_s: float) -> float:
    """Share of callers who hang up before a seat answers."""
    return erlang_a(agents, traffic, aht_s, patience_s, 0.0).abandonment


def erlang_a_asa(agents: int, traffic: float, aht_s: float, patience_s: float) -> float:
    """Mean wait of answered callers in seconds."""
    return erlang_a(agents, traffic, aht_s, patience_s, 0.0).asa_s


def erlang_a_agents_for_service_level(
    traffic: float, aht_s: float, patience_s: float, target: float, within_s: float
) -> int:
    """Fewest agents whose Erlang A service level reaches ``target``; found by bisection (SL rises with N)."""
    _check_traffic(traffic)
    _check_positive("aht_s", aht_s)
    _check_positive("patience_s", patience_s)
    _check_target(target)
    _check_nonnegative("within_s", within_s)
    if traffic == 0:
        return 0

    def ok(n: int) -> bool:
        return erlang_a(n, traffic, aht_s, patience_s, within_s).service_level >= target

    # Erlang C's answer always suffices (patience only shortens queues), so it bounds the search.
    hi = erlang_c_agents_for_service_level(traffic, aht_s, target, within_s)
    lo = 0
    # Counting early hang-ups as misses can in rare corners need more than Erlang C: widen then.
    while not ok(hi):
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi
